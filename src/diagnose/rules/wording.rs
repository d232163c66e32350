//! Wording several rules share: a container's command line as evidence, and a fix that
//! reproduces a crash with the same image.

use crate::diagnose::text::uppercase_first;
use crate::evidence::{Container, ContainerDefinition};

/// "Entry point `X`, command `Y`" with only the parts the task definition sets.
pub fn describe_command(def: &ContainerDefinition) -> Option<String> {
    let parts: Vec<String> = [("Entry point", &def.entry_point), ("command", &def.command)]
        .into_iter()
        .filter(|(_, words)| !words.is_empty())
        .map(|(label, words)| format!("{label} `{}`", words.join(" ")))
        .collect();
    (!parts.is_empty()).then(|| uppercase_first(&parts.join(", ")))
}

/// "Reproduce with the same image: `docker run --rm -it IMAGE`." when the image is known.
pub fn reproduce_with_image(container: &Container) -> Option<String> {
    container
        .image
        .as_deref()
        .map(|i| format!("Reproduce with the same image: `docker run --rm -it {i}`."))
}
