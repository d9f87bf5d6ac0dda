//! A bar chart as hand-written SVG (no plotting crate: a dozen rectangles and labels).
//!
//! Used for the latency percentiles of the federation suite, written to
//! `target/bench/latency.svg`. The y axis is logarithmic, because push and polling differ by
//! two orders of magnitude.

use std::fmt::Write as _;

/// One group of bars (one percentile), a value per series.
pub(crate) struct Group<'a> {
    pub(crate) label: &'a str,
    pub(crate) values: Vec<f64>,
}

/// The canvas, in pixels.
const W: f64 = 720.0;
const H: f64 = 420.0;

/// The plot's margins inside the canvas, in pixels.
struct Margin {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

const MARGIN: Margin = Margin { left: 70.0, right: 20.0, top: 50.0, bottom: 80.0 };
const COLOURS: [&str; 4] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An SVG document: `groups` of bars, one colour per entry of `series`, on a log10 axis in
/// `unit`, with each bar's value printed above it. Non-positive or non-finite values are drawn
/// as missing ("n/a").
pub(crate) fn bar_chart_log(title: &str, unit: &str, series: &[&str], groups: &[Group]) -> String {
    let finite = groups.iter().flat_map(|g| g.values.iter().copied()).filter(|v| *v > 0.0);
    let (lo, hi) = finite
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo_exp, hi_exp) = if hi > 0.0 {
        (lo.log10().floor() as i32, (hi.log10().ceil() as i32).max(lo.log10().floor() as i32 + 1))
    } else {
        (0, 1)
    };
    let Margin { left: margin_left, right: margin_right, top: margin_top, bottom: margin_bottom } =
        MARGIN;
    let plot_h = H - margin_top - margin_bottom;
    let plot_w = W - margin_left - margin_right;
    let y = |v: f64| {
        let f = (v.log10() - lo_exp as f64) / (hi_exp - lo_exp) as f64;
        margin_top + plot_h * (1.0 - f)
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    for e in lo_exp..=hi_exp {
        let v = 10f64.powi(e);
        let yy = y(v);
        let _ = writeln!(
            out,
            r##"<line x1="{margin_left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{} {}</text>"##,
            W - margin_right,
            margin_left - 6.0,
            yy + 4.0,
            if v >= 1.0 { format!("{v:.0}") } else { format!("{v}") },
            escape(unit)
        );
    }
    let _ = writeln!(
        out,
        r#"<line x1="{margin_left}" x2="{margin_left}" y1="{margin_top}" y2="{}" stroke="black"/>"#,
        margin_top + plot_h
    );
    let group_w = plot_w / groups.len().max(1) as f64;
    let bar_w = (group_w * 0.7) / series.len().max(1) as f64;
    for (gi, g) in groups.iter().enumerate() {
        let x0 = margin_left + gi as f64 * group_w + group_w * 0.15;
        for (si, v) in g.values.iter().enumerate() {
            let x = x0 + si as f64 * bar_w;
            let colour = COLOURS[si % COLOURS.len()];
            if *v > 0.0 && v.is_finite() {
                let top = y(*v);
                let _ = writeln!(
                    out,
                    r#"<rect x="{x:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{colour}"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{v:.1}</text>"#,
                    bar_w - 4.0,
                    (margin_top + plot_h - top).max(0.0),
                    x + (bar_w - 4.0) / 2.0,
                    top - 4.0
                );
            } else {
                let _ = writeln!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">n/a</text>"#,
                    x + bar_w / 2.0,
                    margin_top + plot_h - 4.0
                );
            }
        }
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="13">{}</text>"#,
            x0 + bar_w * series.len() as f64 / 2.0,
            margin_top + plot_h + 20.0,
            escape(g.label)
        );
    }
    for (si, name) in series.iter().enumerate() {
        let x = margin_left + 10.0 + si as f64 * (plot_w / series.len().max(1) as f64);
        let yy = H - 25.0;
        let _ = writeln!(
            out,
            r#"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{yy:.1}">{}</text>"#,
            yy - 10.0,
            COLOURS[si % COLOURS.len()],
            x + 18.0,
            escape(name)
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_a_bar_per_value_and_escapes_labels() {
        let svg = bar_chart_log(
            "a < b",
            "ms",
            &["push", "poll"],
            &[
                Group { label: "p50", values: vec![8.5, 516.9] },
                Group { label: "p99", values: vec![33.5, f64::NAN] },
            ],
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<rect x=").count(), 3 + 2, "3 bars and 2 legend keys");
        assert!(svg.contains("a &lt; b"));
        assert!(svg.contains(">516.9<") && svg.contains(">n/a<"));
        assert!(svg.contains(">1000 ms<") && svg.contains(">1 ms<"), "{svg}");
    }
}
