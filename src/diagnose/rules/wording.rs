//! Wording several rules share: a container's command line as evidence, a fix that
//! reproduces a crash with the same image, and values cut to fit a headline.

use super::Facts;
use crate::diagnose::text::uppercase_first;
use crate::evidence::{Container, ContainerDefinition};
use crate::values::ImageRef;

/// Values quoted inside a headline are cut to this many characters.
const MAX_HEADLINE_VALUE_CHARS: usize = 48;

/// A value cut to fit a headline.
pub fn cut(value: &str) -> String {
    crate::text::truncate(value.trim(), MAX_HEADLINE_VALUE_CHARS).into_owned()
}

/// The image of `container`, as `repository:tag`, for a headline.
pub fn image_of(container: Option<&Container>, f: &Facts) -> Option<String> {
    let container = container?;
    let image = container
        .image
        .clone()
        .or_else(|| f.definition_of(container).map(|d| d.image.clone()))
        .filter(|i| !i.is_empty())?;
    let image = ImageRef::parse(&image);
    Some(match image.tag {
        Some(tag) => format!("{}:{tag}", image.repository),
        None => image.repository,
    })
}

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
