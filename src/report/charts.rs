//! The diagnostics charts, drawn with plotters to PNG and SVG from [`ReportNumbers`]. Colours
//! are the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies);
//! text uses the DejaVu Sans font shipped in `assets/`, so no system font is needed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

mod grades;
mod maturity;

use super::numbers::{ReportNumbers, PSI_FLAG};
use crate::error::{Error, Result};
use crate::metrics::{BandTest, Light};
use crate::threshold::{HEALTHY_MQL_RATE, TYPICAL_MQL_TO_SQL};

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BLUE: RGBColor = RGBColor(0, 114, 178);
const ORANGE: RGBColor = RGBColor(230, 159, 0);
const GREEN: RGBColor = RGBColor(0, 158, 115);
const VERMILLION: RGBColor = RGBColor(213, 94, 0);
const SKY: RGBColor = RGBColor(86, 180, 233);
const PURPLE: RGBColor = RGBColor(204, 121, 167);
const GREY: RGBColor = RGBColor(120, 120, 120);
// The traffic lights of the points-band check (as on the page's table).
const LIGHT_GREEN: RGBColor = RGBColor(26, 127, 55);
const LIGHT_AMBER: RGBColor = RGBColor(179, 107, 0);
const LIGHT_RED: RGBColor = RGBColor(198, 40, 40);

/// Default chart size in pixels.
pub const SIZE: (u32, u32) = (960, 600);

/// One chart: its file stem, title for the page, and pixel size.
#[derive(Debug, Clone)]
pub struct Chart {
    pub stem: &'static str,
    pub title: String,
    pub size: (u32, u32),
}

fn register_font() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut ok = true;
    ONCE.call_once(|| {
        ok = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok();
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Fit(
            "the bundled chart font could not be loaded".into(),
        ))
    }
}

/// A line of a multi-line chart: its label, colour and value.
type Line<T> = (&'static str, RGBColor, fn(&T) -> f64);

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Fills the background, runs `draw` and writes the file, naming the chart on error.
fn finish<DB: DrawingBackend>(
    path: &Path,
    root: DrawingArea<DB, Shift>,
    draw: impl FnOnce(&DrawingArea<DB, Shift>) -> DrawResult,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let fail =
        |e: Box<dyn std::error::Error>| Error::data(path, format!("cannot draw the chart: {e}"));
    root.fill(&WHITE).map_err(|e| fail(e.into()))?;
    draw(&root).map_err(fail)?;
    root.present().map_err(|e| fail(e.into()))
}

/// The series legend, drawn the same way on every chart.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(GREY)
        .label_font(("sans-serif", font_size))
        .draw()?;
    Ok(())
}

fn pct(x: &f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

fn whole(x: &f64) -> String {
    format!("{x:.0}")
}

fn short(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_string()
    } else {
        format!("{}…", name.chars().take(max - 1).collect::<String>())
    }
}

/// A dashed guide line (the diagonal, a base rate, a threshold), in one style everywhere.
fn dashed(
    points: [(f64, f64); 2],
    colour: RGBColor,
    width: u32,
) -> DashedLineSeries<std::array::IntoIter<(f64, f64), 2>, i32> {
    DashedLineSeries::new(points, 6, 4, colour.stroke_width(width))
}

/// The label of category `i` on an axis of categories drawn as unit slots: `labels[i]` at the
/// slot's centre (`i + 0.5`, or `i` when `centred_on_integers`), nothing elsewhere.
fn category_label(labels: &[String], centred_on_integers: bool) -> impl Fn(&f64) -> String + '_ {
    move |x: &f64| {
        let (i, off) = if centred_on_integers {
            (x.round(), 0.0)
        } else {
            (x.floor(), 0.5)
        };
        if (x - i - off).abs() < 1e-9 && i >= 0.0 && (i as usize) < labels.len() {
            labels[i as usize].clone()
        } else {
            String::new()
        }
    }
}

/// Renders every chart into `dir` and returns them in page order.
pub fn draw_all(dir: &Path, n: &ReportNumbers) -> Result<Vec<Chart>> {
    register_font()?;
    let mut charts = Vec::new();
    // A macro rather than a function: each chart function is generic over the backend and
    // is instantiated once for PNG and once for SVG.
    macro_rules! chart {
        ($stem:expr, $title:expr, $size:expr, $f:expr) => {{
            let c = Chart {
                stem: $stem,
                title: $title,
                size: $size,
            };
            let png = dir.join(format!("{}.png", c.stem));
            finish(
                &png,
                BitMapBackend::new(&png, c.size).into_drawing_area(),
                |r| $f(r, n),
            )?;
            let svg = dir.join(format!("{}.svg", c.stem));
            finish(
                &svg,
                SVGBackend::new(&svg, c.size).into_drawing_area(),
                |r| $f(r, n),
            )?;
            charts.push(c);
        }};
    }
    chart!(
        "reliability",
        "Reliability: predicted vs observed conversion".into(),
        SIZE,
        reliability
    );
    chart!(
        "conversion-by-band",
        "Conversion rate by score band".into(),
        (SIZE.0, 900),
        bands
    );
    chart!(
        "gains-lift",
        "Cumulative gains and lift".into(),
        (SIZE.0, 480),
        gains
    );
    chart!(
        "roc-pr",
        "ROC and precision–recall".into(),
        (SIZE.0, 480),
        roc_pr
    );
    chart!(
        "threshold-trade-off",
        "Threshold trade-off".into(),
        SIZE,
        trade_off
    );
    let rule_height = (140 + 22 * n.rule_points.len() as u32).max(400);
    chart!(
        "rule-points",
        "Points per rule".into(),
        (SIZE.0, rule_height),
        rule_points
    );
    let drift_rows = n.drift.len().min(DRIFT_ROWS) as u32;
    chart!(
        "drift",
        "Drift from the training data".into(),
        (SIZE.0, 480 + (140 + 22 * drift_rows).max(300)),
        drift
    );
    if n.grades.is_some() {
        chart!(
            "grade-matrix",
            "Grade matrix: conversion and leads per grade".into(),
            (760, 680),
            grades::grade_matrix
        );
    }
    if !n.cohorts.is_empty() {
        chart!("cohorts", "Monthly cohorts".into(), (SIZE.0, 840), cohorts);
    }
    if let Some(m) = &n.maturity {
        chart!(
            "maturity",
            format!(
                "Cumulative conversion by days since creation ({}-day window)",
                m.window_days
            ),
            SIZE,
            maturity::maturity
        );
    }
    Ok(charts)
}

/// Axes of a reliability diagram (probability against observed rate, both 0–100%) with the
/// diagonal of perfect calibration, for one model or two.
fn reliability_axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: String,
) -> std::result::Result<
    ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    Box<dyn std::error::Error>,
>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("predicted probability of conversion")
        .y_desc("observed conversion rate")
        .x_label_formatter(&pct)
        .y_label_formatter(&pct)
        .label_style(("sans-serif", 14))
        .draw()?;
    chart
        .draw_series(dashed([(0.0, 0.0), (1.0, 1.0)], GREY, 1))?
        .label("perfect calibration")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], GREY));
    Ok(chart)
}

fn reliability<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, n: &ReportNumbers) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (top, bottom) = root.split_vertically(430);
    let mut chart = reliability_axes(
        &top,
        format!(
            "Reliability ({}): ECE {:.3} over {} leads",
            n.source, n.metrics.ece, n.metrics.rows
        ),
    )?;
    let bins: Vec<_> = n.reliability.iter().filter(|b| b.leads > 0).collect();
    // The 95% confidence band: the Wilson intervals of the bins, joined across the predictions
    // (a calibrated model's diagonal should run inside it).
    if bins.len() >= 2 {
        let band: Vec<(f64, f64)> = bins
            .iter()
            .map(|b| (b.mean_predicted, b.wilson_low))
            .chain(bins.iter().rev().map(|b| (b.mean_predicted, b.wilson_high)))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(band, BLUE.mix(0.15).filled())))?
            .label("95% confidence band")
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 5), (x + 18, y + 5)], BLUE.mix(0.15).filled())
            });
    }
    chart.draw_series(bins.iter().map(|b| {
        ErrorBar::new_vertical(
            b.mean_predicted,
            b.wilson_low,
            b.observed,
            b.wilson_high,
            BLUE.stroke_width(2),
            8,
        )
    }))?;
    chart
        .draw_series(
            bins.iter()
                .map(|b| Circle::new((b.mean_predicted, b.observed), 5, BLUE.filled())),
        )?
        .label("observed, 95% Wilson interval")
        .legend(|(x, y)| Circle::new((x + 9, y), 5, BLUE.filled()));
    legend(&mut chart, SeriesLabelPosition::UpperLeft, 14)?;

    let max = n
        .reliability
        .iter()
        .map(|b| b.leads)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut hist = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..1f64, 0f64..max * 1.1)?;
    hist.configure_mesh()
        .disable_x_mesh()
        .x_desc(match n.reliability_bins {
            super::numbers::Bins::Uniform => "predicted probability (bins of 10%)",
            super::numbers::Bins::Quantile => "predicted probability (bins of equal lead counts)",
        })
        .y_desc("leads")
        .x_label_formatter(&pct)
        .y_label_formatter(&whole)
        .y_labels(4)
        .label_style(("sans-serif", 14))
        .draw()?;
    // Quantile bins span their smallest to largest prediction (at least 1% wide, so a bin of
    // one tied prediction still shows).
    hist.draw_series(n.reliability.iter().map(|b| {
        let (lo, hi) = match n.reliability_bins {
            super::numbers::Bins::Uniform => (b.lower + 0.005, b.upper - 0.005),
            super::numbers::Bins::Quantile => {
                let mid = (b.lower + b.upper) / 2.0;
                let half = ((b.upper - b.lower) / 2.0).max(0.005);
                (mid - half, mid + half)
            }
        };
        Rectangle::new([(lo, 0.0), (hi, b.leads as f64)], SKY.filled())
    }))?;
    Ok(())
}

/// The reliability curves of two models on the same leads in one chart (for `mqlcal
/// retrain`): `reliability-both.png` and `.svg` in `dir`. Each model's observed rate per
/// probability bin, joined by a line, with its 95% Wilson interval.
pub fn draw_reliability_pair(
    dir: &Path,
    champion: &ReportNumbers,
    challenger: &ReportNumbers,
) -> Result<()> {
    register_font()?;
    let png = dir.join("reliability-both.png");
    finish(
        &png,
        BitMapBackend::new(&png, SIZE).into_drawing_area(),
        |r| reliability_pair(r, champion, challenger),
    )?;
    let svg = dir.join("reliability-both.svg");
    finish(&svg, SVGBackend::new(&svg, SIZE).into_drawing_area(), |r| {
        reliability_pair(r, champion, challenger)
    })
}

fn reliability_pair<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    champion: &ReportNumbers,
    challenger: &ReportNumbers,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut chart = reliability_axes(
        root,
        format!(
            "Reliability on the same {} leads: champion ECE {:.3}, challenger ECE {:.3}",
            champion.metrics.rows, champion.metrics.ece, challenger.metrics.ece
        ),
    )?;
    for (n, color, name) in [
        (champion, BLUE, "champion"),
        (challenger, ORANGE, "challenger"),
    ] {
        let bins: Vec<_> = n.reliability.iter().filter(|b| b.leads > 0).collect();
        chart.draw_series(bins.iter().map(|b| {
            ErrorBar::new_vertical(
                b.mean_predicted,
                b.wilson_low,
                b.observed,
                b.wilson_high,
                color.stroke_width(1),
                6,
            )
        }))?;
        chart.draw_series(LineSeries::new(
            bins.iter().map(|b| (b.mean_predicted, b.observed)),
            color.stroke_width(2),
        ))?;
        chart
            .draw_series(
                bins.iter()
                    .map(|b| Circle::new((b.mean_predicted, b.observed), 5, color.filled())),
            )?
            .label(format!("{name} (observed, 95% Wilson interval)"))
            .legend(move |(x, y)| Circle::new((x + 9, y), 5, color.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft, 14)?;
    Ok(())
}

fn bands<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, n: &ReportNumbers) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (top, bottom) = root.split_vertically(450);
    for (area, bands, title, by_points) in [
        (
            &top,
            &n.deciles,
            "by score decile (D1 = lowest scores)",
            false,
        ),
        (&bottom, &n.points_bands, "by points band", true),
    ] {
        let k = bands.len().max(1);
        let max = bands
            .iter()
            .flat_map(|b| {
                let check = b.check.map(|t| t.jeffreys_upper.max(t.mean_predicted));
                [b.conversion_rate, check.unwrap_or(0.0)]
            })
            .fold(0.0, f64::max)
            .max(0.05);
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!(
                    "Conversion rate {title}; MQL threshold {} points",
                    n.threshold
                ),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..k as f64, 0f64..max * 1.2)?;
        let labels: Vec<String> = bands
            .iter()
            .map(|b| {
                if by_points {
                    format!("{}", b.min_score)
                } else {
                    b.label.clone()
                }
            })
            .collect();
        let fmt = category_label(&labels, false);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * k + 1)
            .x_label_formatter(&fmt)
            .x_desc(if by_points {
                "band of points (lower bound)"
            } else {
                "score decile"
            })
            .y_desc("conversion rate")
            .y_label_formatter(&pct)
            .label_style(("sans-serif", 13))
            .draw()?;
        chart
            .draw_series(bands.iter().enumerate().map(|(i, b)| {
                let colour = if b.min_score >= n.threshold {
                    ORANGE
                } else {
                    BLUE
                };
                Rectangle::new(
                    [(i as f64 + 0.1, 0.0), (i as f64 + 0.9, b.conversion_rate)],
                    colour.filled(),
                )
            }))?
            .label("below threshold (blue) / MQL band (orange)")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], ORANGE.filled()));
        chart.draw_series(bands.iter().enumerate().map(|(i, b)| {
            let top = b.check.map_or(b.conversion_rate, |t| {
                t.jeffreys_upper.max(t.mean_predicted)
            });
            Text::new(
                format!("n={}", b.leads),
                (i as f64 + 0.15, top + max * 0.03),
                ("sans-serif", 11).into_font(),
            )
        }))?;
        // Points bands: the 95% Jeffreys interval of the observed rate, the mean prediction
        // (a black tick) and the band's traffic light (a dot under the interval's top).
        let checked: Vec<(usize, BandTest)> = bands
            .iter()
            .enumerate()
            .filter_map(|(i, b)| b.check.map(|t| (i, t)))
            .collect();
        if !checked.is_empty() {
            // The interval as a line with caps (plotters' ErrorBar also marks a middle value,
            // which would read as a third estimate).
            let whisker = |i: usize, t: BandTest| {
                let x = i as f64 + 0.5;
                PathElement::new(
                    [
                        (x - 0.06, t.jeffreys_lower),
                        (x + 0.06, t.jeffreys_lower),
                        (x, t.jeffreys_lower),
                        (x, t.jeffreys_upper),
                        (x - 0.06, t.jeffreys_upper),
                        (x + 0.06, t.jeffreys_upper),
                    ],
                    BLACK.stroke_width(1),
                )
            };
            chart
                .draw_series(checked.iter().map(|&(i, t)| whisker(i, t)))?
                .label("95% Jeffreys interval of the observed rate")
                .legend(|(x, y)| PathElement::new([(x + 7, y - 6), (x + 7, y + 6)], BLACK));
            chart
                .draw_series(checked.iter().map(|&(i, t)| {
                    PathElement::new(
                        [
                            (i as f64 + 0.2, t.mean_predicted),
                            (i as f64 + 0.8, t.mean_predicted),
                        ],
                        BLACK.stroke_width(3),
                    )
                }))?
                .label("mean predicted probability")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK.stroke_width(3)));
            for (light, colour, text) in [
                (Light::Green, LIGHT_GREEN, "inside the 95% interval"),
                (Light::Amber, LIGHT_AMBER, "outside 95%, inside 99.9%"),
                (Light::Red, LIGHT_RED, "outside the 99.9% interval"),
            ] {
                let dots: Vec<_> = checked.iter().filter(|(_, t)| t.light == light).collect();
                if dots.is_empty() {
                    continue;
                }
                chart
                    .draw_series(dots.iter().map(|&&(i, t)| {
                        Circle::new(
                            (i as f64 + 0.75, t.jeffreys_upper.max(t.mean_predicted)),
                            6,
                            colour.filled(),
                        )
                    }))?
                    .label(text)
                    .legend(move |(x, y)| Circle::new((x + 7, y), 5, colour.filled()));
            }
        }
        // The threshold: a line at the first band that reaches it.
        if let Some(i) = bands.iter().position(|b| b.max_score >= n.threshold) {
            let b = &bands[i];
            let frac = if b.max_score > b.min_score {
                ((n.threshold - b.min_score) as f64 / (b.max_score - b.min_score) as f64)
                    .clamp(0.0, 1.0)
            } else {
                0.0
            };
            let x = i as f64 + 0.1 + 0.8 * frac;
            chart
                .draw_series(dashed([(x, 0.0), (x, max * 1.15)], VERMILLION, 2))?
                .label(format!("MQL threshold ({} points)", n.threshold))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], VERMILLION));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft, 13)?;
    }
    Ok(())
}

fn gains<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, n: &ReportNumbers) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    let mut chart = ChartBuilder::on(&left)
        .caption("Cumulative gains", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("share of leads, best scores first")
        .y_desc("share of conversions")
        .x_label_formatter(&pct)
        .y_label_formatter(&pct)
        .label_style(("sans-serif", 13))
        .draw()?;
    chart.draw_series(dashed([(0.0, 0.0), (1.0, 1.0)], GREY, 1))?;
    chart.draw_series(LineSeries::new(
        std::iter::once((0.0, 0.0)).chain(
            n.gains
                .iter()
                .map(|g| (g.share_of_leads, g.share_of_conversions)),
        ),
        BLUE.stroke_width(3),
    ))?;
    let max_lift = n.gains.iter().map(|g| g.lift).fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&right)
        .caption("Lift", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..max_lift * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("share of leads, best scores first")
        .y_desc("lift (× average conversion)")
        .x_label_formatter(&pct)
        .label_style(("sans-serif", 13))
        .draw()?;
    chart.draw_series(dashed([(0.0, 1.0), (1.0, 1.0)], GREY, 1))?;
    chart.draw_series(LineSeries::new(
        n.gains.iter().map(|g| (g.share_of_leads, g.lift)),
        ORANGE.stroke_width(3),
    ))?;
    Ok(())
}

fn roc_pr<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, n: &ReportNumbers) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    let mut chart = ChartBuilder::on(&left)
        .caption(
            format!("ROC: AUC {:.3}", n.metrics.roc_auc),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("false positive rate")
        .y_desc("true positive rate (recall)")
        .x_label_formatter(&pct)
        .y_label_formatter(&pct)
        .label_style(("sans-serif", 13))
        .draw()?;
    chart.draw_series(dashed([(0.0, 0.0), (1.0, 1.0)], GREY, 1))?;
    chart.draw_series(LineSeries::new(n.roc.iter().copied(), BLUE.stroke_width(3)))?;
    let mut chart = ChartBuilder::on(&right)
        .caption(
            format!("Precision–recall: AP {:.3}", n.average_precision),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("recall (share of conversions that are MQLs)")
        .y_desc("precision (MQL→opportunity)")
        .x_label_formatter(&pct)
        .y_label_formatter(&pct)
        .label_style(("sans-serif", 13))
        .draw()?;
    let base = n.funnel.conversions as f64 / n.funnel.leads.max(1) as f64;
    chart.draw_series(dashed([(0.0, base), (1.0, base)], GREY, 1))?;
    chart.draw_series(LineSeries::new(
        n.precision_recall.iter().copied(),
        ORANGE.stroke_width(3),
    ))?;
    Ok(())
}

fn trade_off<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, n: &ReportNumbers) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let lo = n.trade_off.iter().map(|t| t.threshold).min().unwrap_or(0) as f64;
    let hi = n.trade_off.iter().map(|t| t.threshold).max().unwrap_or(1) as f64;
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "Threshold trade-off: at {} points, lead→MQL {:.1}%, MQL→opportunity {:.1}%, \
                 captured {:.1}%",
                n.threshold,
                100.0 * n.funnel.lead_to_mql_rate,
                100.0 * n.funnel.mql_to_opportunity_rate,
                100.0 * n.funnel.conversions_captured
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(lo..hi, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("MQL threshold (points)")
        .x_label_formatter(&whole)
        .y_desc("rate")
        .y_label_formatter(&pct)
        .label_style(("sans-serif", 13))
        .draw()?;
    chart
        .draw_series([Rectangle::new(
            [(lo, HEALTHY_MQL_RATE.0), (hi, HEALTHY_MQL_RATE.1)],
            BLUE.mix(0.15).filled(),
        )])?
        .label("healthy lead→MQL 5–15%")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], BLUE.mix(0.3).filled()));
    chart
        .draw_series([Rectangle::new(
            [(lo, TYPICAL_MQL_TO_SQL.0), (hi, TYPICAL_MQL_TO_SQL.1)],
            ORANGE.mix(0.15).filled(),
        )])?
        .label("typical MQL→SQL 13–27%")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], ORANGE.mix(0.3).filled()));
    let series: [Line<super::numbers::TradeOff>; 3] = [
        ("lead→MQL rate", BLUE, |t| t.lead_to_mql_rate),
        ("MQL→opportunity rate", ORANGE, |t| {
            t.mql_to_opportunity_rate
        }),
        ("conversions captured", GREEN, |t| t.conversions_captured),
    ];
    for (label, colour, f) in series {
        chart
            .draw_series(LineSeries::new(
                n.trade_off.iter().map(|t| (t.threshold as f64, f(t))),
                colour.stroke_width(3),
            ))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(3)));
    }
    let t = n.threshold as f64;
    chart
        .draw_series(dashed([(t, 0.0), (t, 1.0)], VERMILLION, 2))?
        .label(format!("chosen threshold ({} points)", n.threshold))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], VERMILLION));
    legend(&mut chart, SeriesLabelPosition::UpperRight, 13)?;
    Ok(())
}

fn rule_points<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, n: &ReportNumbers) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut rules: Vec<_> = n.rule_points.iter().collect();
    rules.sort_by_key(|r| r.points);
    let k = rules.len().max(1);
    let lo = rules
        .iter()
        .map(|r| r.low.unwrap_or(r.points).min(r.points))
        .min()
        .unwrap_or(0)
        .min(0) as f64;
    let hi = rules
        .iter()
        .map(|r| r.high.unwrap_or(r.points).max(r.points))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let pad = (hi - lo) * 0.05;
    let title = if n.bootstrap_resamples > 0 {
        format!(
            "Points per rule, with 90% intervals from {} bootstrap refits",
            n.bootstrap_resamples
        )
    } else {
        "Points per rule (no intervals: the training data was not given)".to_string()
    };
    let names: Vec<String> = rules.iter().map(|r| short(&r.name, 42)).collect();
    let fmt = category_label(&names, false);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(330)
        .build_cartesian_2d((lo - pad)..(hi + pad), 0f64..k as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(2 * k + 1)
        .y_label_formatter(&fmt)
        .x_desc("points (negative points in vermillion)")
        .x_label_formatter(&whole)
        .label_style(("sans-serif", 12))
        .draw()?;
    chart.draw_series(rules.iter().enumerate().map(|(i, r)| {
        let colour = if r.points < 0 { VERMILLION } else { BLUE };
        Rectangle::new(
            [(0.0, i as f64 + 0.15), (r.points as f64, i as f64 + 0.85)],
            colour.filled(),
        )
    }))?;
    chart.draw_series(rules.iter().enumerate().filter_map(|(i, r)| {
        Some(ErrorBar::new_horizontal(
            i as f64 + 0.5,
            r.low? as f64,
            r.points as f64,
            r.high? as f64,
            BLACK.stroke_width(1),
            8,
        ))
    }))?;
    Ok(())
}

/// Rules shown in the drift chart (the most drifted first); metrics.json has them all.
const DRIFT_ROWS: usize = 25;

fn drift<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, n: &ReportNumbers) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (top, bottom) = root.split_vertically(440);
    // Score distributions, training vs these leads.
    let k = n.score_distribution.len().max(1);
    let max = n
        .score_distribution
        .iter()
        .map(|d| d.1.max(d.2))
        .fold(0.0, f64::max)
        .max(0.01);
    let labels: Vec<String> = n
        .score_distribution
        .iter()
        .map(|d| format!("≥{}", d.0))
        .collect();
    let fmt = category_label(&labels, false);
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!(
                "Score distribution: training vs {} (PSI {:.3}{})",
                n.source,
                n.score_psi,
                if n.score_psi > PSI_FLAG {
                    ", shifted"
                } else {
                    ""
                }
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..k as f64, 0f64..max * 1.2)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * k + 1)
        .x_label_formatter(&fmt)
        .x_desc("score bin (training deciles, points)")
        .y_desc("share of leads")
        .y_label_formatter(&pct)
        .label_style(("sans-serif", 12))
        .draw()?;
    chart
        .draw_series(n.score_distribution.iter().enumerate().map(|(i, d)| {
            Rectangle::new(
                [(i as f64 + 0.1, 0.0), (i as f64 + 0.5, d.1)],
                GREY.mix(0.7).filled(),
            )
        }))?
        .label("training")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], GREY.filled()));
    chart
        .draw_series(n.score_distribution.iter().enumerate().map(|(i, d)| {
            Rectangle::new(
                [(i as f64 + 0.5, 0.0), (i as f64 + 0.9, d.2)],
                PURPLE.filled(),
            )
        }))?
        .label(n.source.clone())
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], PURPLE.filled()));
    legend(&mut chart, SeriesLabelPosition::UpperRight, 13)?;

    // PSI per rule, most drifted first.
    let mut rules: Vec<_> = n.drift.iter().collect();
    rules.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    rules.truncate(DRIFT_ROWS);
    rules.reverse();
    let k = rules.len().max(1);
    let max = rules.iter().map(|d| d.psi).fold(PSI_FLAG, f64::max) * 1.1;
    let names: Vec<String> = rules.iter().map(|r| short(&r.name, 42)).collect();
    let fmt = category_label(&names, false);
    let mut chart = ChartBuilder::on(&bottom)
        .caption(
            format!(
                "PSI per rule ({} most shifted of {}; above {PSI_FLAG} in vermillion)",
                rules.len(),
                n.drift.len()
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(330)
        .build_cartesian_2d(0f64..max, 0f64..k as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(2 * k + 1)
        .y_label_formatter(&fmt)
        .x_desc("population stability index")
        .label_style(("sans-serif", 12))
        .draw()?;
    chart.draw_series(rules.iter().enumerate().map(|(i, d)| {
        let colour = if d.flagged { VERMILLION } else { SKY };
        Rectangle::new(
            [(0.0, i as f64 + 0.15), (d.psi, i as f64 + 0.85)],
            colour.filled(),
        )
    }))?;
    for (x, style) in [(0.1, GREY), (PSI_FLAG, VERMILLION)] {
        chart.draw_series(dashed([(x, 0.0), (x, k as f64)], style, 1))?;
    }
    Ok(())
}

fn cohorts<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, n: &ReportNumbers) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (top, bottom) = root.split_vertically(420);
    let k = n.cohorts.len().max(1);
    let labels: Vec<String> = n.cohorts.iter().map(|c| c.month.clone()).collect();
    let fmt = category_label(&labels, true);
    let max = n
        .cohorts
        .iter()
        .map(|c| c.conversion_rate.max(c.mql_rate))
        .fold(0.0, f64::max)
        .max(0.05);
    let mut chart = ChartBuilder::on(&top)
        .caption(
            "Conversion and MQL rate by month of lead creation",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..k as f64 - 0.5, 0f64..max * 1.2)?;
    chart
        .configure_mesh()
        .x_labels(k.min(24))
        .x_label_formatter(&fmt)
        .x_desc("month the lead was created")
        .y_desc("share of the month's leads")
        .y_label_formatter(&pct)
        .label_style(("sans-serif", 12))
        .draw()?;
    let lines: [Line<super::numbers::Cohort>; 2] = [
        ("became an opportunity", GREEN, |c| c.conversion_rate),
        ("MQL (score ≥ threshold)", BLUE, |c| c.mql_rate),
    ];
    for (label, colour, f) in lines {
        chart
            .draw_series(LineSeries::new(
                n.cohorts.iter().enumerate().map(|(i, c)| (i as f64, f(c))),
                colour.stroke_width(3),
            ))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(3)));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight, 13)?;

    let velocity: Vec<(f64, f64)> = n
        .cohorts
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i as f64, c.median_days_to_mql?)))
        .collect();
    let vmax = velocity.iter().map(|v| v.1).fold(35.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&bottom)
        .caption(
            if velocity.is_empty() {
                "MQL velocity: no MQL date column given (--mql-date)"
            } else {
                "MQL velocity: median days from lead creation to MQL (typical 14–30)"
            },
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..k as f64 - 0.5, 0f64..vmax)?;
    chart
        .configure_mesh()
        .x_labels(k.min(24))
        .x_label_formatter(&fmt)
        .x_desc("month the lead was created")
        .y_desc("days")
        .label_style(("sans-serif", 12))
        .draw()?;
    chart.draw_series([Rectangle::new(
        [(-0.5, 14.0), (k as f64 - 0.5, 30.0)],
        GREEN.mix(0.15).filled(),
    )])?;
    chart.draw_series(LineSeries::new(velocity, ORANGE.stroke_width(3)))?;
    Ok(())
}
