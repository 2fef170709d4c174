//! The `hoist` command.

fn main() {
    println!("hoist");
}
