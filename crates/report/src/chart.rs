//! Charts, drawn by plotters on its SVG backend.
//!
//! plotters writes text as `<text>` elements (no font files) and escapes `<`, `>`, `&`, quotes in
//! text and attributes; labels are cleaned and shortened here first, because control characters
//! are not even valid XML. Every chart is a string of SVG that the HTML report inlines and
//! `medsurface stats --svg` writes to a file.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::text::{clean, LABEL_CHARS};
use crate::ReportError;

/// Fill of every bar in [`bar_chart_svg`] (tests count bars by it).
pub const BAR_COLOR: &str = "#2563EB";
const BAR: RGBColor = RGBColor(0x25, 0x63, 0xEB);
const INK: RGBColor = RGBColor(0x1F, 0x29, 0x37);
const GRID: RGBColor = RGBColor(0xE5, 0xE7, 0xEB);
const MUTED: RGBColor = RGBColor(0x6B, 0x72, 0x80);
const FONT: &str = "sans-serif";

/// Width of every chart, in pixels (the HTML scales it to the page).
pub const WIDTH: u32 = 760;
const ROW: u32 = 24;

/// A horizontal bar chart: one bar per row, in the given order from the top, the count at the
/// end of each bar. Labels longer than 28 characters are shortened.
pub fn bar_chart_svg(title: &str, rows: &[(String, u64)]) -> Result<String, ReportError> {
    bar_chart_svg_width(title, rows, WIDTH)
}

/// [`bar_chart_svg`] at another width (charts beside a table are narrower, so their text is not
/// scaled down).
pub fn bar_chart_svg_width(
    title: &str,
    rows: &[(String, u64)],
    width: u32,
) -> Result<String, ReportError> {
    let mut svg = String::new();
    draw_bars(&mut svg, title, rows, width.clamp(240, 4000))?;
    Ok(svg)
}

fn draw_bars(
    svg: &mut String,
    title: &str,
    rows: &[(String, u64)],
    width: u32,
) -> Result<(), ReportError> {
    let height = 70 + ROW * rows.len().max(1) as u32;
    {
        let root = SVGBackend::with_string(svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let title = clean(title, 120);
        if rows.is_empty() {
            return no_data(root, &title);
        }
        let labels: Vec<String> = rows.iter().map(|(l, _)| label(l)).collect();
        let max = rows.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
        // Room for the count after the longest bar.
        let x_max = max + (max / 8).max(1);
        let n = rows.len() as u32;
        let label_width = labels
            .iter()
            .map(|l| l.chars().count() as u32)
            .max()
            .unwrap_or(4)
            .clamp(4, LABEL_CHARS as u32)
            * 8
            + 14;
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, (FONT, 20).into_font().color(&INK))
            .margin(10)
            .margin_right(24)
            .x_label_area_size(26)
            .y_label_area_size(label_width)
            .build_cartesian_2d(0u64..x_max, (0u32..n).into_segmented())
            .map_err(chart_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            // Category labels need no tick marks (the segmented axis would add a stray one
            // past the last bar).
            .set_tick_mark_size(LabelAreaPosition::Left, 0)
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .y_labels(rows.len())
            .y_label_style((FONT, 15).into_font().color(&INK))
            .x_label_style((FONT, 14).into_font().color(&MUTED))
            .x_labels(6)
            .y_label_formatter(&|v| match v {
                // No tick marks, so two no-break spaces keep the label off the axis.
                SegmentValue::CenterOf(i) if (*i as usize) < labels.len() => {
                    format!("{}\u{a0}\u{a0}", labels[labels.len() - 1 - *i as usize])
                }
                _ => String::new(),
            })
            .x_label_formatter(&|v| format!("{v}"))
            .draw()
            .map_err(chart_err)?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, (_, v))| {
                let slot = n - 1 - i as u32;
                let mut r = Rectangle::new(
                    [
                        (0, SegmentValue::Exact(slot)),
                        (*v, SegmentValue::Exact(slot + 1)),
                    ],
                    BAR.filled(),
                );
                r.set_margin(4, 4, 0, 0);
                r
            }))
            .map_err(chart_err)?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, (_, v))| {
                let slot = n - 1 - i as u32;
                Text::new(
                    format!("\u{a0}{v}"),
                    (*v, SegmentValue::CenterOf(slot)),
                    (FONT, 14)
                        .into_font()
                        .color(&INK)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                )
            }))
            .map_err(chart_err)?;
        root.present().map_err(chart_err)?;
    }
    Ok(())
}

/// A vertical histogram of the DREAD scores: one column per bucket, coloured from green (low
/// scores) to red (high).
pub fn histogram_svg(title: &str, buckets: &[(String, u64)]) -> Result<String, ReportError> {
    let mut svg = String::new();
    draw_histogram(&mut svg, title, buckets)?;
    Ok(svg)
}

fn draw_histogram(
    svg: &mut String,
    title: &str,
    buckets: &[(String, u64)],
) -> Result<(), ReportError> {
    {
        let root = SVGBackend::with_string(svg, (WIDTH, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let title = clean(title, 120);
        if buckets.iter().all(|(_, n)| *n == 0) {
            return no_data(root, &title);
        }
        let max = buckets.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
        let y_max = max + (max / 8).max(1);
        let n = buckets.len() as u32;
        // Bucket i spans [i, i+1) on a plain integer axis, so the ticks mark the bucket
        // boundaries (0, 1, … 10) like a histogram's.
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, (FONT, 20).into_font().color(&INK))
            .margin(10)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(48)
            .build_cartesian_2d(0u32..n, 0u64..y_max)
            .map_err(chart_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .x_labels(buckets.len() + 1)
            .y_labels(6)
            .x_desc("DREAD score")
            .y_desc("services")
            .axis_desc_style((FONT, 15).into_font().color(&MUTED))
            .x_label_style((FONT, 14).into_font().color(&INK))
            .y_label_style((FONT, 14).into_font().color(&MUTED))
            .x_label_formatter(&|v| format!("{v}"))
            .y_label_formatter(&|v| format!("{v}"))
            .draw()
            .map_err(chart_err)?;
        chart
            .draw_series(buckets.iter().enumerate().map(|(i, (_, v))| {
                let i = i as u32;
                let mut r =
                    Rectangle::new([(i, 0), (i + 1, *v)], ramp(i as usize, n as usize).filled());
                r.set_margin(0, 0, 4, 4);
                r
            }))
            .map_err(chart_err)?;
        chart
            .draw_series(buckets.iter().enumerate().filter(|(_, (_, v))| *v > 0).map(
                |(i, (_, v))| {
                    // Centred over the bucket: half a bucket is not a point of the integer
                    // axis, so the text is placed at the bucket's start and shifted.
                    EmptyElement::at((i as u32, *v))
                        + Text::new(
                            v.to_string(),
                            (bucket_px(n) / 2, -4),
                            (FONT, 14)
                                .into_font()
                                .color(&INK)
                                .pos(Pos::new(HPos::Center, VPos::Bottom)),
                        )
                },
            ))
            .map_err(chart_err)?;
        root.present().map_err(chart_err)?;
    }
    Ok(())
}

/// Width of one histogram bucket in pixels (the plot area is the chart minus its label area
/// and margins).
fn bucket_px(n: u32) -> i32 {
    ((WIDTH - 48 - 10 - 24) / n.max(1)) as i32
}

/// Green to amber to red over `n` steps.
fn ramp(i: usize, n: usize) -> RGBColor {
    const STOPS: [(f64, f64, f64); 3] = [
        (0x16 as f64, 0xA3 as f64, 0x4A as f64),
        (0xF5 as f64, 0x9E as f64, 0x0B as f64),
        (0xDC as f64, 0x26 as f64, 0x26 as f64),
    ];
    let t = if n <= 1 {
        0.0
    } else {
        i as f64 / (n - 1) as f64
    };
    let (a, b, u) = if t < 0.5 {
        (STOPS[0], STOPS[1], t * 2.0)
    } else {
        (STOPS[1], STOPS[2], (t - 0.5) * 2.0)
    };
    let mix = |x: f64, y: f64| (x + (y - x) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn label(s: &str) -> String {
    let s = clean(s, LABEL_CHARS);
    if s.is_empty() {
        "unknown".to_string()
    } else {
        s
    }
}

/// A chart with nothing to draw says so instead of drawing empty axes.
fn no_data(root: DrawingArea<SVGBackend<'_>, Shift>, title: &str) -> Result<(), ReportError> {
    let (w, h) = root.dim_in_pixel();
    root.draw(&Text::new(
        title.to_string(),
        (12, 14),
        (FONT, 20).into_font().color(&INK),
    ))
    .map_err(chart_err)?;
    root.draw(&Text::new(
        "No services to show.".to_string(),
        (w as i32 / 2, h as i32 / 2 + 10),
        (FONT, 16)
            .into_font()
            .color(&MUTED)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(chart_err)?;
    root.present().map_err(chart_err)
}

fn chart_err<E: std::fmt::Display>(e: E) -> ReportError {
    ReportError::Chart(e.to_string())
}
