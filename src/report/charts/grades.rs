//! The grade matrix as a heatmap: profile bands A–D down, behaviour bands 1–4 across, each
//! cell shaded by its conversion rate (white to blue, darkest at the highest rate) and labelled
//! with its grade, conversion rate and leads. Also conversion by each rule group's sub-score.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{category_label, pct, DrawResult, BLUE, GREY};
use crate::grades::BANDS;
use crate::report::numbers::ReportNumbers;

pub(super) fn grade_matrix<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    n: &ReportNumbers,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let Some(m) = &n.grades else {
        return Ok(());
    };
    let top = m
        .cells
        .iter()
        .map(|c| c.conversion_rate)
        .fold(0.0, f64::max)
        .max(1e-9);
    let bands = BANDS as f64;
    let digits: Vec<String> = (1..=BANDS).map(|d| d.to_string()).collect();
    // Rows from the top: A at the top, so y runs from D (0) up to A.
    let letters: Vec<String> = (0..BANDS)
        .rev()
        .map(|l| ((b'A' + l as u8) as char).to_string())
        .collect();
    let x_fmt = category_label(&digits, false);
    let y_fmt = category_label(&letters, false);
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "Conversion rate and leads by grade ({} A–D down, {} 1–4 across)",
                m.profile, m.behaviour
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..bands, 0f64..bands)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(2 * BANDS + 1)
        .y_labels(2 * BANDS + 1)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .x_desc(format!("{} band (1 best)", m.behaviour))
        .y_desc(format!("{} band (A best)", m.profile))
        .label_style(("sans-serif", 14))
        .draw()?;
    let place = |i: usize| {
        let (p, b) = (i / BANDS, i % BANDS);
        (b as f64, (BANDS - 1 - p) as f64)
    };
    chart.draw_series(m.cells.iter().enumerate().map(|(i, c)| {
        let (x, y) = place(i);
        let shade = c.conversion_rate / top;
        let colour = if c.leads == 0 {
            WHITE
        } else {
            // White mixed towards blue in proportion to the rate.
            let mix = |w: u8, b: u8| (w as f64 + (b as f64 - w as f64) * shade).round() as u8;
            RGBColor(mix(255, BLUE.0), mix(255, BLUE.1), mix(255, BLUE.2))
        };
        Rectangle::new([(x, y), (x + 1.0, y + 1.0)], colour.filled())
    }))?;
    chart.draw_series(m.cells.iter().enumerate().map(|(i, _)| {
        let (x, y) = place(i);
        Rectangle::new([(x, y), (x + 1.0, y + 1.0)], GREY.stroke_width(1))
    }))?;
    for (i, c) in m.cells.iter().enumerate() {
        let (x, y) = place(i);
        let dark = c.leads > 0 && c.conversion_rate / top > 0.55;
        let colour = if dark { WHITE } else { BLACK };
        let rate = if c.leads == 0 {
            "–".to_string()
        } else {
            pct(&c.conversion_rate)
        };
        for (dy, text, size) in [
            (0.70, c.grade.clone(), 18),
            (0.48, rate, 22),
            (0.26, format!("{} leads", c.leads), 14),
        ] {
            chart.draw_series(std::iter::once(Text::new(
                text,
                (x + 0.5, y + dy),
                ("sans-serif", size)
                    .into_font()
                    .color(&colour)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            )))?;
        }
    }
    Ok(())
}
