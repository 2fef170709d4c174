//! Bytes -> lossy UTF-8 -> `dockerfile::parse`; when that succeeds, `dump`,
//! `instructions::parse` and `plan` with default options. Errors are fine; panics are not.
#![no_main]

use builder_core::plan::{OfflineResolver, PlanOptions};
use builder_core::{SourceFile, dockerfile, instructions, plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let source = SourceFile::new("Dockerfile", text.into_owned());
    let Ok(ast) = dockerfile::parse(&source) else {
        return;
    };
    let _ = ast.dump();
    let Ok(dockerfile) = instructions::parse(&ast) else {
        return;
    };
    let _ = plan::plan(&dockerfile, &PlanOptions::default(), &OfflineResolver);
});
