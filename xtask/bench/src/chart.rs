//! The chart the book embeds, drawn with the `plotters` crate as SVG: one
//! horizontal bar per scenario and implementation, on logarithmic scales,
//! since the designs differ by orders of magnitude.
//!
//! - top: operations per second, with the spread of the rounds as a line
//!   across each bar, and the bare in-process reference for that kind of
//!   exchange as a black mark;
//! - bottom: the server's CPU time per operation.

use std::path::Path;

use plotters::prelude::*;

use super::report::{rate_text, Report};
use super::stat::Stat;

const OURS: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const THEIRS: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const WIDTH: u32 = 1000;

/// Draws `report` into an SVG file at `path`.
pub fn draw(report: &Report, path: &Path) -> Result<(), String> {
    draw_chart(report, path).map_err(|e| format!("cannot draw {}: {e}", path.display()))
}

/// One row of the chart: a scenario's label and its values.
struct Row {
    label: String,
    ours: Option<Stat>,
    theirs: Option<Stat>,
    reference: Option<f64>,
}

fn draw_chart(report: &Report, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let n = report.scenarios.len().max(1);
    let height = 170 + 2 * (n as u32 * 34 + 90);
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (header, body) = root.split_vertically(80);
    let theirs_name = report.against.as_deref().unwrap_or("");
    header.draw(&Text::new(
        "The tutorial's claims, measured",
        (20, 12),
        ("sans-serif", 22).into_font(),
    ))?;
    let setting = format!(
        "{}; {}; median of {} rounds of {:.1} s",
        report.machine,
        report.placement,
        report.rounds,
        report.window.as_secs_f64()
    );
    let mut busy = Vec::new();
    if let (Some(before), Some(after)) = (report.load_before, report.load_after) {
        busy.push(format!("load average {before:.2} before, {after:.2} after"));
    }
    if let Some(others) = report.others {
        busy.push(format!(
            "other programs took {:.0}% of the CPUs' time meanwhile",
            others * 100.0
        ));
    }
    let small = ("sans-serif", 12).into_font().color(&BLACK.mix(0.7));
    header.draw(&Text::new(setting, (20, 44), small.clone()))?;
    header.draw(&Text::new(busy.join("; "), (20, 60), small))?;
    let (top, bottom) = body.split_vertically(body.dim_in_pixel().1 / 2);

    let reference_of = |r: &super::report::ScenarioResult| {
        report
            .references
            .iter()
            .find(|l| l.reference == r.scenario.reference)
            .and_then(|l| l.rate())
            .map(|s| s.median)
    };
    let rates: Vec<Row> = report
        .scenarios
        .iter()
        .map(|r| Row {
            label: format!("{:02} {}", r.scenario.lesson, r.scenario.title),
            ours: r.ours.rate(),
            theirs: r.against.as_ref().and_then(|a| a.rate()),
            reference: reference_of(r),
        })
        .collect();
    let costs: Vec<Row> = report
        .scenarios
        .iter()
        .map(|r| Row {
            label: format!("{:02} {}", r.scenario.lesson, r.scenario.title),
            ours: r.ours.cpu_us(),
            theirs: r.against.as_ref().and_then(|a| a.cpu_us()),
            reference: None,
        })
        .collect();
    panel(
        &top,
        "Throughput: operations per second (log scale); black mark: the bare in-process reference",
        &rates,
        theirs_name,
        SeriesLabelPosition::UpperRight,
        &|v| format!("{}/s", rate_text(v)),
    )?;
    panel(
        &bottom,
        "Server CPU time per operation, µs (log scale), forked children included",
        &costs,
        theirs_name,
        SeriesLabelPosition::LowerRight,
        &|v| {
            if v >= 10.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        },
    )?;
    root.present()?;
    Ok(())
}

fn panel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    caption: &str,
    rows: &[Row],
    theirs_name: &str,
    legend: SeriesLabelPosition,
    format_value: &dyn Fn(f64) -> String,
) -> Result<(), Box<dyn std::error::Error>> {
    let n = rows.len();
    let values: Vec<f64> = rows
        .iter()
        .flat_map(|r| {
            [r.ours.map(|s| s.min), r.ours.map(|s| s.max)]
                .into_iter()
                .chain([
                    r.theirs.map(|s| s.min),
                    r.theirs.map(|s| s.max),
                    r.reference,
                ])
        })
        .flatten()
        .filter(|v| *v > 0.0)
        .collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(0.0, f64::max);
    let (low, high) = if low.is_finite() && high > 0.0 {
        (low / 3.0, high * 3.0)
    } else {
        (1.0, 10.0)
    };
    // Row i is drawn at y = n - 1 - i, so the first scenario is on top.
    let y_of = |i: usize| (n - 1 - i) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(12)
        .margin_right(30)
        .x_label_area_size(30)
        .y_label_area_size(290)
        .build_cartesian_2d((low..high).log_scale(), -0.5..(n as f64 - 0.5))?;
    let label_at = |y: &f64| {
        let index = n as f64 - 1.0 - y;
        if (index - index.round()).abs() < 1e-6 && index >= 0.0 && (index as usize) < n {
            rows[index.round() as usize].label.clone()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&label_at)
        .x_label_formatter(&|v| format_value(*v))
        .label_style(("sans-serif", 12))
        .draw()?;

    let two = !theirs_name.is_empty();
    let bar = |i: usize, which: usize| -> (f64, f64) {
        let y = y_of(i);
        if two {
            if which == 0 {
                (y + 0.02, y + 0.38)
            } else {
                (y - 0.38, y - 0.02)
            }
        } else {
            (y - 0.2, y + 0.2)
        }
    };
    let series: Vec<(usize, RGBColor, &str)> = [(0, OURS, "ours"), (1, THEIRS, theirs_name)]
        .into_iter()
        .filter(|(which, _, _)| *which == 0 || two)
        .collect();
    let stat = |r: &Row, which: usize| if which == 0 { r.ours } else { r.theirs };
    for &(which, color, name) in &series {
        chart
            .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
                let s = stat(r, which)?;
                let (y0, y1) = bar(i, which);
                Some(Rectangle::new([(low, y0), (s.median, y1)], color.filled()))
            }))?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
        // The spread of the rounds: a line from the lowest to the highest.
        chart.draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
            let s = stat(r, which)?;
            let (y0, y1) = bar(i, which);
            let y = (y0 + y1) / 2.0;
            Some(PathElement::new(
                vec![(s.min, y), (s.max, y)],
                BLACK.stroke_width(1),
            ))
        }))?;
    }
    if rows.iter().any(|r| r.reference.is_some()) {
        chart
            .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
                let bare = r.reference?;
                let y = y_of(i);
                Some(PathElement::new(
                    vec![(bare, y - 0.45), (bare, y + 0.45)],
                    BLACK.stroke_width(3),
                ))
            }))?
            .label("bare reference")
            .legend(|(x, y)| {
                PathElement::new(vec![(x + 7, y - 6), (x + 7, y + 6)], BLACK.stroke_width(3))
            });
    }
    // The values last, right of the spread, and right of the reference's mark
    // too when that is close enough to cross the text.
    for &(which, _, _) in &series {
        chart.draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
            let s = stat(r, which)?;
            let (y0, y1) = bar(i, which);
            let mut x = s.max.max(s.median);
            if let Some(bare) = r.reference.filter(|b| *b >= x && *b < x * 2.0) {
                x = bare;
            }
            Some(Text::new(
                format_value(s.median),
                (x * 1.06, (y0 + y1) / 2.0 + 0.12),
                ("sans-serif", 11).into_font(),
            ))
        }))?;
    }
    chart
        .configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 12))
        .draw()?;
    Ok(())
}
