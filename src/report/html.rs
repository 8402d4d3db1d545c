//! `index.html`: one self-contained page (charts inline as PNG data, no network; one small
//! inline script, the threshold explorer's) with the headline numbers, every chart, and tables
//! of the rules, drift, calibration and points bands.
//! Every name from the data is HTML-escaped.

use base64::Engine;

use super::charts::Chart;
use super::numbers::ReportNumbers;
use crate::metrics::{CalibrationStats, Light};

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// The page. `pngs` holds each chart's PNG bytes, in `charts` order.
pub fn page(model_name: &str, n: &ReportNumbers, charts: &[Chart], pngs: &[Vec<u8>]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut h = String::new();
    h.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    );
    h.push_str(&format!(
        "<title>mqlcal report: {}</title>\n",
        escape(model_name)
    ));
    h.push_str(
        "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;\
         color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;\
         padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}\
         img{max-width:100%;height:auto;border:1px solid #eee}.warn{color:#b34700}\
         figure{margin:2em 0}figcaption{font-weight:bold;margin-bottom:.5em}</style>\n\
         </head>\n<body>\n",
    );
    h.push_str(&format!(
        "<h1>Lead-scoring report</h1>\n<p>Model <code>{}</code>, scored on {} ({} leads, {} \
         converted).</p>\n",
        escape(model_name),
        escape(&n.source),
        n.funnel.leads,
        n.funnel.conversions
    ));
    h.push_str(&format!(
        "<p>A lead's probability is the chance that it {}.</p>\n",
        escape(&n.meaning())
    ));
    if !n.half_lives.is_empty() {
        h.push_str(&format!(
            "<p>Engagement decays: {}.</p>\n",
            n.half_lives
                .iter()
                .map(|s| escape(s))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if let Some(m) = &n.maturity {
        h.push_str(&format!(
            "<p>Outcomes as of {}: the {} leads created at least {} days before are mature \
             (their window has passed) and are the only ones in the numbers and charts below; \
             {} leads are still maturing (they may yet convert) and are counted only in the \
             chart of cumulative conversion by days since creation.</p>\n",
            escape(&m.as_of),
            m.mature_leads,
            m.window_days,
            m.immature_leads
        ));
    }
    let m = &n.metrics;
    h.push_str("<table>\n<tr><th>measure</th><th>value</th><th>reads as</th></tr>\n");
    let threshold_row = match &n.mql_grade {
        Some(cell) => (
            "MQL definition".to_string(),
            format!("grade {cell} or better"),
            "a lead at least as good as this cell on both sub-scores is an MQL".to_string(),
        ),
        None => (
            "MQL threshold".to_string(),
            format!("{} points", n.threshold),
            n.guarantee.as_ref().map_or_else(
                || "a lead with at least this score is an MQL".to_string(),
                |g| format!("a lead with at least this score is an MQL; chosen so that {g}, on out-of-fold training scores"),
            ),
        ),
    };
    let rows = [
        threshold_row,
        (
            "lead→MQL rate".into(),
            pct(n.funnel.lead_to_mql_rate),
            "healthy: 5–15%; below 5% too strict, above 25% too loose".into(),
        ),
        (
            "MQL→opportunity rate".into(),
            pct(n.funnel.mql_to_opportunity_rate),
            "typical MQL→SQL: 13–27%".into(),
        ),
        (
            "conversions captured".into(),
            pct(n.funnel.conversions_captured),
            "share of all opportunities that were MQLs".into(),
        ),
        (
            "ROC AUC".into(),
            format!("{:.3}", m.roc_auc),
            "0.5 = random, 1 = perfect ranking".into(),
        ),
        (
            "average precision".into(),
            format!("{:.3}", n.average_precision),
            "area under the precision–recall curve".into(),
        ),
        (
            "log loss".into(),
            format!("{:.4}", m.log_loss),
            "lower is better".into(),
        ),
        (
            "Brier score".into(),
            format!("{:.4}", m.brier),
            "lower is better".into(),
        ),
        (
            "calibration error (ECE)".into(),
            format!("{:.4}", m.ece),
            "average gap between predicted and observed conversion".into(),
        ),
        (
            "score PSI".into(),
            format!("{:.3}", n.score_psi),
            "drift from training: above 0.25 is a real shift".into(),
        ),
    ];
    for (a, b, c) in rows {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&a),
            escape(&b),
            escape(&c)
        ));
    }
    h.push_str("</table>\n");
    if let Some(c) = &n.calibration {
        h.push_str(&calibration_table(c));
    }
    for (chart, png) in charts.iter().zip(pngs) {
        h.push_str(&format!(
            "<figure id=\"{stem}\"><figcaption>{title}</figcaption>\n<img alt=\"{title}\" \
             width=\"{w}\" height=\"{hh}\" src=\"data:image/png;base64,{data}\">\n\
             <div><a href=\"{stem}.svg\">SVG</a> · <a href=\"{stem}.png\">PNG</a></div></figure>\n",
            stem = chart.stem,
            title = escape(&chart.title),
            w = chart.size.0,
            hh = chart.size.1,
            data = b64.encode(png)
        ));
    }
    h.push_str(
        "<h2>Rules</h2>\n<table>\n<tr><th>rule</th><th>points</th><th>90% interval</th>\
                <th>PSI</th></tr>\n",
    );
    for (r, d) in n.rule_points.iter().zip(&n.drift) {
        let interval = match (r.low, r.high) {
            (Some(l), Some(u)) => format!("{l} to {u}"),
            _ => "–".into(),
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{:+}</td><td>{}</td><td{}>{:.3}</td></tr>\n",
            escape(&r.name),
            r.points,
            interval,
            if d.flagged { " class=\"warn\"" } else { "" },
            d.psi
        ));
    }
    h.push_str("</table>\n");
    h.push_str(&bands_table(n));
    h.push_str(&sub_scores_table(n));
    h.push_str(&explorer(n));
    h.push_str("<p>All numbers are in <a href=\"metrics.json\">metrics.json</a>.</p>\n");
    h.push_str("</body>\n</html>\n");
    h
}

fn interval(ci: [f64; 2]) -> String {
    format!("{:.4} to {:.4}", ci[0], ci[1])
}

/// The calibration statistics a reviewer signs off, each with how to read it.
fn calibration_table(c: &CalibrationStats) -> String {
    let d = &c.brier_decomposition;
    let rows = [
        (
            "calibration intercept".to_string(),
            format!("{:+.3}", c.calibration_intercept),
            interval(c.calibration_intercept_ci),
            "0 when right on average; above 0: predictions too low".to_string(),
        ),
        (
            "calibration slope".into(),
            format!("{:.3}", c.calibration_slope),
            interval(c.calibration_slope_ci),
            "1 when calibrated; below 1: too extreme, above 1: too timid".into(),
        ),
        (
            "Spiegelhalter z".into(),
            format!("{:+.2}", c.spiegelhalter_z),
            format!("p = {:.3}", c.spiegelhalter_p),
            "a small p (below 0.05) rejects calibration".into(),
        ),
        (
            "Brier: reliability − resolution + uncertainty".into(),
            format!(
                "{:.4} − {:.4} + {:.4}",
                d.reliability, d.resolution, d.uncertainty
            ),
            "–".into(),
            "reliability: miscalibration (lower is better); resolution: separation (higher)".into(),
        ),
        (
            "calibration error (ECE)".into(),
            "see above".into(),
            interval(c.ece_ci),
            "bootstrap interval: 1,000 resamples of the leads".into(),
        ),
        (
            "debiased calibration error".into(),
            format!("{:.4}", c.debiased_calibration_error),
            "–".into(),
            "RMS gap per score level, its sampling noise removed (Kumar et al. 2019)".into(),
        ),
        (
            "KS".into(),
            format!("{:.3}", c.ks),
            "–".into(),
            "largest gap between the score distributions of converted and other leads".into(),
        ),
        (
            "Gini".into(),
            format!("{:.3}", c.gini),
            "–".into(),
            "2·AUC − 1".into(),
        ),
    ];
    let mut h = String::from(
        "<h2>Calibration</h2>\n<table>\n<tr><th>statistic</th><th>value</th>\
         <th>95% interval</th><th>reads as</th></tr>\n",
    );
    for (a, b, ci, c) in rows {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&a),
            escape(&b),
            escape(&ci),
            escape(&c)
        ));
    }
    h.push_str("</table>\n");
    h
}

/// Conversion by each rule group's sub-score, in bands of points, and the grade matrix's
/// counts.
fn sub_scores_table(n: &ReportNumbers) -> String {
    let mut h = String::new();
    for s in &n.sub_scores {
        h.push_str(&format!(
            "<h2 id=\"sub-score-{id}\">Conversion by {name} sub-score</h2>\n<p>The points of \
             the rules in group <code>{name}</code>, in bands.</p>\n<table>\n<tr><th>{name} \
             points</th><th>leads</th><th>converted</th><th>conversion rate</th></tr>\n",
            id = escape(&s.group.replace(char::is_whitespace, "-")),
            name = escape(&s.group)
        ));
        for b in &s.bands {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(&b.label),
                b.leads,
                b.conversions,
                pct(b.conversion_rate)
            ));
        }
        h.push_str("</table>\n");
    }
    if let Some(m) = &n.grades {
        h.push_str(&format!(
            "<h2 id=\"grades\">Grades</h2>\n<p>Rows: {} band (A best); columns: {} band (1 \
             best). Each cell: conversion rate (converted of leads).</p>\n<table class=\"grades\">\n\
             <tr><th></th><th>1</th><th>2</th><th>3</th><th>4</th></tr>\n",
            escape(&m.profile),
            escape(&m.behaviour)
        ));
        for row in m.cells.chunks(crate::grades::BANDS) {
            h.push_str(&format!("<tr><td>{}</td>", escape(&row[0].grade[..1])));
            for c in row {
                h.push_str(&format!(
                    "<td title=\"{}\">{} ({} of {})</td>",
                    escape(&c.grade),
                    if c.leads == 0 {
                        "–".to_string()
                    } else {
                        pct(c.conversion_rate)
                    },
                    c.conversions,
                    c.leads
                ));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
    h
}

/// Each points band's exact check, with its traffic light.
fn bands_table(n: &ReportNumbers) -> String {
    let mut h = String::from(
        "<h2>Points bands, checked exactly</h2>\n<p>Green: the band's mean predicted \
         probability lies inside the 95% Jeffreys interval of its observed rate; amber: outside \
         it but inside the 99.9% interval; red: outside both.</p>\n<table>\n<tr><th>points</th>\
         <th>leads</th><th>converted</th><th>observed</th><th>predicted</th>\
         <th>95% Jeffreys interval</th><th>P(≥ observed)</th><th>P(≤ observed)</th>\
         <th>light</th></tr>\n",
    );
    for b in &n.points_bands {
        let Some(t) = &b.check else { continue };
        let (light, colour) = match t.light {
            Light::Green => ("green", "#1a7f37"),
            Light::Amber => ("amber", "#b36b00"),
            Light::Red => ("red", "#c62828"),
        };
        h.push_str(&format!(
            "<tr class=\"band-{light}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{} to {}</td><td>{:.3}</td><td>{:.3}</td>\
             <td style=\"color:{colour};font-weight:bold\">● {light}</td></tr>\n",
            escape(&b.label),
            b.leads,
            b.conversions,
            pct(b.conversion_rate),
            pct(t.mean_predicted),
            pct(t.jeffreys_lower),
            pct(t.jeffreys_upper),
            t.p_more,
            t.p_fewer,
        ));
    }
    h.push_str("</table>\n");
    h
}

/// The threshold explorer: a slider over the thresholds of the trade-off chart that shows
/// lead→MQL, MQL→opportunity and the share of conversions captured at each, against the usual
/// benchmarks. The page's only script: a few lines and the numbers it reads, inline (no
/// network); without JavaScript the section shows the model's own threshold.
fn explorer(n: &ReportNumbers) -> String {
    let mut rows: Vec<&super::numbers::TradeOff> = n.trade_off.iter().collect();
    if rows.is_empty() {
        return String::new();
    }
    rows.sort_by_key(|t| t.threshold);
    // The model's threshold, or the nearest sampled one.
    let start = rows
        .iter()
        .enumerate()
        .min_by_key(|(_, t)| (t.threshold - n.threshold).abs())
        .map_or(0, |(i, _)| i);
    let data: Vec<String> = rows
        .iter()
        .map(|t| {
            format!(
                "[{},{:.6},{:.6},{:.6}]",
                t.threshold, t.lead_to_mql_rate, t.mql_to_opportunity_rate, t.conversions_captured
            )
        })
        .collect();
    let t = rows[start];
    let (mql_lo, mql_hi) = crate::threshold::HEALTHY_MQL_RATE;
    let (sql_lo, sql_hi) = crate::threshold::TYPICAL_MQL_TO_SQL;
    format!(
        "<h2>Threshold explorer</h2>\n<section id=\"explorer\"><p>Move the slider to see what \
         another MQL threshold would do to these leads. Benchmarks: lead→MQL {mql_lo_p}–{mql_hi_p}% \
         is healthy; MQL→SQL is typically {sql_lo_p}–{sql_hi_p}%.</p>\n\
         <p><label for=\"explorer-slider\">MQL threshold</label> \
         <input type=\"range\" id=\"explorer-slider\" min=\"0\" max=\"{max}\" step=\"1\" \
         value=\"{start}\" style=\"width:60%\"> <b><span id=\"explorer-points\">{points}</span> \
         points</b></p>\n<table>\n<tr><th>at this threshold</th><th>value</th><th>benchmark</th></tr>\n\
         <tr><td>lead→MQL rate</td><td id=\"explorer-mql-rate\">{mql}</td><td>{mql_lo_p}–{mql_hi_p}%</td></tr>\n\
         <tr><td>MQL→opportunity rate</td><td id=\"explorer-precision\">{prec}</td><td>{sql_lo_p}–{sql_hi_p}%</td></tr>\n\
         <tr><td>conversions captured</td><td id=\"explorer-captured\">{cap}</td><td>–</td></tr>\n\
         </table></section>\n<script>\n\
         // The threshold explorer: [points, lead→MQL, MQL→opportunity, captured] per threshold.\n\
         const TRADE_OFF = [{data}];\n\
         (function () {{\n\
           const pct = x => (100 * x).toFixed(1) + '%';\n\
           const mark = (el, x, lo, hi) => {{ el.textContent = pct(x) + (x < lo ? ' (below)' : x > hi ? ' (above)' : ' (within)'); }};\n\
           const slider = document.getElementById('explorer-slider');\n\
           const show = () => {{\n\
             const t = TRADE_OFF[Number(slider.value)];\n\
             document.getElementById('explorer-points').textContent = t[0];\n\
             mark(document.getElementById('explorer-mql-rate'), t[1], {mql_lo}, {mql_hi});\n\
             mark(document.getElementById('explorer-precision'), t[2], {sql_lo}, {sql_hi});\n\
             document.getElementById('explorer-captured').textContent = pct(t[3]);\n\
           }};\n\
           slider.addEventListener('input', show);\n\
           show();\n\
         }})();\n</script>\n",
        max = rows.len() - 1,
        points = t.threshold,
        mql = pct(t.lead_to_mql_rate),
        prec = pct(t.mql_to_opportunity_rate),
        cap = pct(t.conversions_captured),
        data = data.join(","),
        mql_lo_p = 100.0 * mql_lo,
        mql_hi_p = 100.0 * mql_hi,
        sql_lo_p = 100.0 * sql_lo,
        sql_hi_p = 100.0 * sql_hi,
    )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_in_names_is_text() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }
}
