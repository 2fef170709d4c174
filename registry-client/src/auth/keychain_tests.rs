use std::os::unix::fs::PermissionsExt;

use super::*;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

/// A `docker-credential-test` helper: knows `helper.example` (user/password),
/// `token.example` (an identity token), and says "not found" for the rest.
fn helper_dir(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    let script = r#"#!/bin/sh
[ "$1" = get ] || exit 2
read -r server
case "$server" in
  helper.example) printf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-pass"}' "$server" ;;
  token.example) printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh-me"}' "$server" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"hub-user","Secret":"hub-pass"}' "$server" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
"#;
    let p = write(&bin, "docker-credential-test", script);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn config_json_auths() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = format!(
        r#"{{"auths":{{
            "https://index.docker.io/v1/":{{"auth":"{}"}},
            "https://ghcr.io":{{"auth":"{}"}},
            "localhost:5000":{{"username":"u","password":"p"}},
            "quay.io":{{"identitytoken":"idtok"}},
            "empty.example":{{}}
        }}}}"#,
        b64("hubuser:hub:pass"),
        b64("gh:tok")
    );
    write(tmp.path(), "docker/config.json", &cfg);
    let env = KeychainEnv {
        docker_config: Some(tmp.path().join("docker")),
        ..Default::default()
    };
    let k = DockerKeychain::from_env(&env);
    assert_eq!(
        k.credential("docker.io").unwrap(),
        Some(Credential::basic("hubuser", "hub:pass"))
    );
    assert_eq!(
        k.credential("ghcr.io").unwrap(),
        Some(Credential::basic("gh", "tok"))
    );
    assert_eq!(
        k.credential("localhost:5000").unwrap(),
        Some(Credential::basic("u", "p"))
    );
    assert_eq!(
        k.credential("quay.io").unwrap(),
        Some(Credential::IdentityToken("idtok".into()))
    );
    assert_eq!(k.credential("empty.example").unwrap(), None);
    assert_eq!(k.credential("other.example").unwrap(), None);
}

#[test]
fn home_docker_config_and_auth_file_order() {
    let tmp = tempfile::tempdir().unwrap();
    let docker = format!(
        r#"{{"auths":{{"r.example":{{"auth":"{}"}}}}}}"#,
        b64("docker:1")
    );
    let podman = format!(
        r#"{{"auths":{{"r.example":{{"auth":"{}"}}}}}}"#,
        b64("podman:2")
    );
    write(tmp.path(), "home/.docker/config.json", &docker);
    let auth_file = write(tmp.path(), "auth.json", &podman);
    let mut env = KeychainEnv {
        home: Some(tmp.path().join("home")),
        ..Default::default()
    };
    let k = DockerKeychain::from_env(&env);
    assert_eq!(
        k.credential("r.example").unwrap(),
        Some(Credential::basic("docker", "1"))
    );
    env.registry_auth_file = Some(auth_file);
    let k = DockerKeychain::from_env(&env);
    assert_eq!(
        k.credential("r.example").unwrap(),
        Some(Credential::basic("podman", "2"))
    );
}

#[test]
fn cred_helpers_and_creds_store_through_helper_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = helper_dir(tmp.path());
    let cfg = r#"{"auths":{"helper.example":{}},"credHelpers":{"helper.example":"test","token.example":"test","missing.example":"test"}}"#;
    let path = write(tmp.path(), "config.json", cfg);
    let k = DockerKeychain::new()
        .with_file(&path)
        .helper_dirs(vec![bin.clone()]);
    assert_eq!(
        k.credential("helper.example").unwrap(),
        Some(Credential::basic("helper-user", "helper-pass"))
    );
    assert_eq!(
        k.credential("token.example").unwrap(),
        Some(Credential::IdentityToken("refresh-me".into()))
    );
    assert_eq!(
        k.credential("missing.example").unwrap(),
        None,
        "helper says not found"
    );

    let store = write(tmp.path(), "store.json", r#"{"credsStore":"test"}"#);
    let k = DockerKeychain::new()
        .with_file(&store)
        .helper_dirs(vec![bin]);
    assert_eq!(
        k.credential("docker.io").unwrap(),
        Some(Credential::basic("hub-user", "hub-pass"))
    );
    assert_eq!(k.credential("nowhere.example").unwrap(), None);
}

#[test]
fn missing_helper_and_bad_files_are_typed_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(tmp.path(), "c.json", r#"{"credsStore":"absent"}"#);
    let e = DockerKeychain::new()
        .with_file(&cfg)
        .credential("x.example")
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Credentials);
    assert!(e.to_string().contains("docker-credential-absent"), "{e}");

    let bad = write(tmp.path(), "bad.json", "{not json");
    let e = DockerKeychain::new()
        .with_file(&bad)
        .credential("x.example")
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Credentials);

    let secret = format!(
        r#"{{"auths":{{"x.example":{{"auth":"{}"}}}}}}"#,
        "!!notbase64-topsecret"
    );
    let bad = write(tmp.path(), "bad64.json", &secret);
    let e = DockerKeychain::new()
        .with_file(&bad)
        .credential("x.example")
        .unwrap_err();
    assert!(!e.to_string().contains("topsecret"), "{e}");
}

#[test]
fn debug_output_is_redacted() {
    let entry = AuthEntry {
        auth: Some(b64("u:secret-pass")),
        username: Some("u".into()),
        password: Some("secret-pass".into()),
        identitytoken: Some("secret-id".into()),
        registrytoken: None,
    };
    let text = format!("{entry:?}");
    assert!(!text.contains("secret"), "{text}");
    let k = StaticKeychain::new().with("r", Credential::basic("u", "secret-pass"));
    assert!(!format!("{k:?}").contains("secret"));
}
