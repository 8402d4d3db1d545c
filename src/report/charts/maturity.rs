//! The chart of time: cumulative conversion by days since creation (the empirical delay
//! distribution of mature converters), the window marked, and the leads still maturing shown
//! as a band over their ages with their count.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{legend, pct, whole, DrawResult, BLUE, GREY, ORANGE, VERMILLION};
use crate::report::numbers::ReportNumbers;

pub(super) fn maturity<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    n: &ReportNumbers,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let Some(m) = &n.maturity else {
        return Ok(());
    };
    let w = f64::from(m.window_days);
    // A little room past the window so its line is not on the frame.
    let x_max = w * 1.08 + 1.0;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "Share of {}-day conversions by days since creation ({} mature converters)",
                m.window_days, m.mature_conversions
            ),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..1.05)?;
    chart
        .configure_mesh()
        .x_desc("days since the lead was created")
        .x_label_formatter(&whole)
        .y_desc("share of conversions within the window")
        .y_label_formatter(&pct)
        .label_style(("sans-serif", 12))
        .draw()?;
    if let Some(young) = &m.maturing {
        let (a, b) = (f64::from(young.youngest_days), f64::from(young.oldest_days));
        chart
            .draw_series([Rectangle::new(
                [(a, 0.0), (b.max(a + 0.5), 1.05)],
                ORANGE.mix(0.18).filled(),
            )])?
            .label(format!(
                "{} leads still maturing (ages {}–{} days; {} converted so far, ~{:.0}% of \
                 their conversions expected by now)",
                m.immature_leads,
                young.youngest_days,
                young.oldest_days,
                young.converted_so_far,
                100.0 * young.expected_share_seen
            ))
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 6), (x + 18, y + 6)], ORANGE.mix(0.4).filled())
            });
    }
    // A step curve: the share reaches cumulative[d] on day d.
    let mut steps = Vec::with_capacity(2 * m.cumulative.len());
    let mut last = 0.0;
    for (d, &c) in m.cumulative.iter().enumerate() {
        steps.push((d as f64, last));
        steps.push((d as f64, c));
        last = c;
    }
    chart
        .draw_series(LineSeries::new(steps, BLUE.stroke_width(3)))?
        .label(format!(
            "converted by day d, of the mature leads that converted (median {} days)",
            m.median_days
        ))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLUE.stroke_width(3)));
    chart
        .draw_series(LineSeries::new(
            [(w, 0.0), (w, 1.05)],
            VERMILLION.stroke_width(2),
        ))?
        .label(format!(
            "window: {} days (a lead is mature {} days after creation)",
            m.window_days, m.window_days
        ))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], VERMILLION.stroke_width(2)));
    chart.draw_series([Text::new(
        format!(
            "the other charts hold the {} mature leads (as of {}); the {} still maturing are in none",
            m.mature_leads, m.as_of, m.immature_leads
        ),
        (w * 0.02, 1.0),
        ("sans-serif", 13).into_font().color(&GREY),
    )])?;
    legend(&mut chart, SeriesLabelPosition::LowerRight, 13)?;
    Ok(())
}
