//! The `ecs-why` command line: why | explain | serve | causes.

fn main() {
    println!("ecs-why: under construction");
}
