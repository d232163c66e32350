//! Output formats shared by `why` and `explain`: one diagnosis becomes text, a JSON
//! object (one line), or a Slack message payload (one line).

use crate::diagnose::{diagnose, Diagnosis};
use crate::evidence::Evidence;
use crate::render;
use std::io::{self, Write};

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A card for the terminal (colour only on a terminal; NO_COLOR honoured).
    Text,
    /// The JSON contract: one object per task, one per line.
    Json,
    /// The Slack message payload `{"text": ..., "blocks": [...]}`, one per line.
    Blocks,
}

/// Diagnose each piece of evidence and write it in `format`.
pub fn write_all(
    out: &mut impl Write,
    evidence: &[Evidence],
    format: Format,
    colour: bool,
) -> io::Result<()> {
    for (index, one) in evidence.iter().enumerate() {
        let diagnosis = diagnose(one);
        if format == Format::Text && index > 0 {
            writeln!(out)?;
        }
        write_one(out, &diagnosis, format, colour)?;
    }
    Ok(())
}

/// Write one diagnosis in `format`, ending with a newline.
pub fn write_one(
    out: &mut impl Write,
    diagnosis: &Diagnosis,
    format: Format,
    colour: bool,
) -> io::Result<()> {
    match format {
        Format::Text => {
            let text = render::text::to_text(diagnosis, colour);
            out.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                writeln!(out)?;
            }
        }
        Format::Json => {
            render::json::write_json(&mut *out, diagnosis)?;
            writeln!(out)?;
        }
        Format::Blocks => {
            serde_json::to_writer(&mut *out, &render::blocks::to_blocks_json(diagnosis))?;
            writeln!(out)?;
        }
    }
    Ok(())
}
