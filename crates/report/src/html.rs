//! The HTML report: one self-contained file.
//!
//! minijinja renders `templates/report.html` with HTML autoescaping on, from the cleaned view
//! model; the only values marked safe are the charts, which plotters wrote (it escapes text and
//! attributes itself). The page carries a Content-Security-Policy (`default-src 'none'`): no
//! script, font, image or style sheet can be fetched, so a report opened in a browser sends
//! nothing anywhere.

use std::io::Write;

use minijinja::{AutoEscape, Environment, Value};

use crate::chart::{bar_chart_svg, bar_chart_svg_width, histogram_svg};
use crate::summary::{Count, Summary, TOP_COUNTRIES};
use crate::view::View;
use crate::{ReportError, ReportInput};

/// The policy in the page's `<meta http-equiv="Content-Security-Policy">`.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// Ids of the sections every HTML report has, in page order. `honeypots` (when services were
/// left out as likely honeypots) and `supply-chain` (when supply data was given) come and go.
pub const SECTIONS: [&str; 8] = [
    "summary",
    "categories",
    "countries",
    "org-types",
    "dread",
    "findings",
    "remediation",
    "method",
];

/// Width of the charts drawn beside a table (about the width they get on the page).
const SIDE_CHART_WIDTH: u32 = 560;

pub fn render(
    input: &ReportInput,
    summary: &Summary,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    let view = View::build(input, summary)?;
    let charts = Value::from_iter([
        (
            "categories",
            safe(bar_chart_svg_width(
                "Exposed services by category",
                &Count::rows(&summary.by_category),
                SIDE_CHART_WIDTH,
            )?),
        ),
        (
            "countries",
            safe(bar_chart_svg(
                &format!("Top {TOP_COUNTRIES} countries with exposed DICOM / imaging services"),
                &Count::rows(&summary.imaging_by_country),
            )?),
        ),
        (
            "org_types",
            safe(bar_chart_svg_width(
                "Exposed services by organisation type",
                &Count::rows(&summary.org_types),
                SIDE_CHART_WIDTH,
            )?),
        ),
        (
            "dread",
            safe(histogram_svg(
                "Services per DREAD score",
                &summary.dread_rows(),
            )?),
        ),
    ]);
    let env = environment()?;
    let tmpl = env.get_template("report.html").map_err(template_err)?;
    let ctx = minijinja::context! {
        top_countries => TOP_COUNTRIES,
        csp => Value::from_safe_string(CONTENT_SECURITY_POLICY.to_string()),
        charts => charts,
        ..Value::from_serialize(&view)
    };
    let page = tmpl.render(ctx).map_err(template_err)?;
    out.write_all(page.as_bytes())?;
    Ok(())
}

fn environment() -> Result<Environment<'static>, ReportError> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template("report.html", include_str!("../templates/report.html"))
        .map_err(template_err)?;
    env.add_template("findings.html", include_str!("../templates/findings.html"))
        .map_err(template_err)?;
    Ok(env)
}

/// A chart from plotters, inlined as markup. Only plotters' own output is ever marked safe.
fn safe(svg: String) -> Value {
    Value::from_safe_string(svg)
}

pub(crate) fn template_err(e: minijinja::Error) -> ReportError {
    // The chain carries the template name and line.
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    ReportError::Template(msg)
}
