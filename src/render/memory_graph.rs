//! The memory graph of an out-of-memory stop: a PNG for the Slack thread and a one-line
//! sparkline for the terminal, both from the probe's [`MemorySeries`].
//!
//! Pure like the other renderers: no I/O, no clock, never shells out. The PNG is drawn
//! with plotters into an in-memory RGB buffer and encoded with the `png` crate; the text
//! uses the bundled DejaVu Sans (assets/fonts/), so it looks the same on every machine.

use crate::evidence::probes::MemorySeries;
use crate::text::{figure, grouped};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::OnceLock;

/// The graph's size in pixels.
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 320;

/// The limit line's colour (pure enough to find in the pixels).
pub const LIMIT_RED: RGBColor = RGBColor(220, 20, 20);
const LINE_BLUE: RGBColor = RGBColor(37, 99, 235);
const AREA_BLUE: RGBColor = RGBColor(191, 219, 254);
const STOP_GREY: RGBColor = RGBColor(90, 90, 90);

/// The font family the graph registers DejaVu Sans under (plotters' default family, so
/// the axis labels use it too).
const FAMILY: &str = "sans-serif";
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Why the graph could not be made.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("the memory series has no points to draw")]
    NoPoints,
    #[error("the bundled font assets/fonts/DejaVuSans.ttf could not be loaded; rebuild with the file intact")]
    Font,
    #[error("plotters could not draw the memory graph: {0}")]
    Draw(String),
    #[error("the memory graph could not be encoded as PNG: {0}")]
    Encode(#[from] png::EncodingError),
}

/// Register the bundled font once per process.
fn font_ready() -> Result<(), GraphError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(GraphError::Font)
    }
}

/// Minutes from the stop (negative before it) of each point, with its value; points
/// after the stop are left out. Without a stop time the last point is the right edge.
fn minutes_before_stop(series: &MemorySeries) -> Vec<(f64, f64)> {
    let Some(edge) = series
        .stopped_at
        .or_else(|| series.points.last().map(|p| p.at))
    else {
        return Vec::new();
    };
    series
        .points
        .iter()
        .map(|p| ((p.at - edge).num_seconds() as f64 / 60.0, p.value))
        .filter(|(minutes, _)| *minutes <= 0.0)
        .collect()
}

/// A `WIDTH`×`HEIGHT` PNG of the series: the memory as a line over a light area, the
/// limit as a red line labelled `limit 1,024 MiB`, the stop marked at 0 (with its UTC
/// time) on an axis of minutes before the stop.
pub fn png(series: &MemorySeries, title: &str) -> Result<Vec<u8>, GraphError> {
    let points = minutes_before_stop(series);
    if points.is_empty() {
        return Err(GraphError::NoPoints);
    }
    font_ready()?;
    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    draw(series, title, &points, &mut rgb).map_err(GraphError::Draw)?;
    encode(&rgb)
}

fn draw(
    series: &MemorySeries,
    title: &str,
    points: &[(f64, f64)],
    rgb: &mut [u8],
) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let root = BitMapBackend::with_buffer(rgb, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;

    let earliest = points.iter().map(|(m, _)| *m).fold(-30.0_f64, f64::min);
    let peak = points.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let limit = series.limit.filter(|l| *l > 0.0);
    let top = limit.unwrap_or(0.0).max(peak).max(1.0) * 1.12;
    let x_range = earliest.floor()..1.0;
    let percent = series.unit.eq_ignore_ascii_case("percent");

    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FAMILY, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range.clone(), 0.0..top)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(220, 220, 220))
        .x_desc("minutes before the stop")
        .y_desc(if percent { "%" } else { "MiB" })
        .x_label_formatter(&|m| minus_sign(&format!("{m:.0}")))
        .y_label_formatter(&|v| grouped(*v))
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 13))
        .draw()
        .map_err(|e| fail(&e))?;

    chart
        .draw_series(
            AreaSeries::new(points.iter().copied(), 0.0, AREA_BLUE.mix(0.6))
                .border_style(LINE_BLUE.stroke_width(2)),
        )
        .map_err(|e| fail(&e))?;

    // The stop, at 0.
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (0.0, top)],
            STOP_GREY.stroke_width(1),
        ))
        .map_err(|e| fail(&e))?;
    chart
        .draw_series(std::iter::once(Text::new(
            series.stopped_at.map_or_else(
                || "stop".to_string(),
                |at| format!("stop {} UTC", at.format("%H:%M")),
            ),
            (0.0, top),
            (FAMILY, 13)
                .into_font()
                .color(&STOP_GREY)
                .pos(Pos::new(HPos::Right, VPos::Top)),
        )))
        .map_err(|e| fail(&e))?;

    if let Some(limit) = limit {
        chart
            .draw_series(LineSeries::new(
                [(x_range.start, limit), (x_range.end, limit)],
                LIMIT_RED.stroke_width(2),
            ))
            .map_err(|e| fail(&e))?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("limit {}", figure(limit, &series.unit)),
                (x_range.start + 0.4, limit),
                (FAMILY, 13)
                    .into_font()
                    .color(&LIMIT_RED)
                    .pos(Pos::new(HPos::Left, VPos::Bottom)),
            )))
            .map_err(|e| fail(&e))?;
    }
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

/// `-30` → `−30` (a true minus sign, as the axis reads).
fn minus_sign(label: &str) -> String {
    match label.strip_prefix('-') {
        Some("0") => "0".to_string(),
        Some(rest) => format!("\u{2212}{rest}"),
        None => label.to_string(),
    }
}

fn encode(rgb: &[u8]) -> Result<Vec<u8>, GraphError> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Best);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()?;
    }
    Ok(out)
}

/// One terminal line: `▁▁▂▂▃▄▅▆▇█ 310 → 1,019 MiB of 1,024 MiB (30 min)`. The bars
/// scale against the limit when it is known, else against the peak; an empty series
/// gives an empty string.
pub fn sparkline(series: &MemorySeries) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    const MOST_BARS: usize = 60;
    let (Some(first), Some(last)) = (series.points.first(), series.points.last()) else {
        return String::new();
    };
    let values: Vec<f64> = series.points.iter().map(|p| p.value).collect();
    let peak = values.iter().copied().fold(f64::MIN, f64::max);
    let limit = series.limit.filter(|l| *l > 0.0);
    let scale = limit.unwrap_or(peak).max(peak).max(f64::EPSILON);
    let per_bar = values.len().div_ceil(MOST_BARS);
    let bars: String = values
        .chunks(per_bar)
        .map(|chunk| {
            let value = chunk.iter().copied().fold(f64::MIN, f64::max);
            let step = ((value / scale) * (BARS.len() as f64 - 1.0)).round();
            BARS[step.clamp(0.0, BARS.len() as f64 - 1.0) as usize]
        })
        .collect();
    let percent = series.unit.eq_ignore_ascii_case("percent");
    let mut line = format!(
        "{bars} {} → {}",
        grouped(first.value),
        figure(last.value, &series.unit)
    );
    if peak > last.value + 0.5 {
        line.push_str(&format!(" (peak {})", figure(peak, &series.unit)));
    }
    if let (Some(limit), false) = (limit, percent) {
        line.push_str(&format!(" of {}", figure(limit, &series.unit)));
    }
    let end = series.stopped_at.unwrap_or(last.at);
    let minutes = ((end - first.at).num_seconds().max(0) + 59) / 60;
    line.push_str(&format!(" ({} min)", minutes.max(1)));
    line
}
