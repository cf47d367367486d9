//! Learning curves as SVG (plotters' SVG backend needs no fonts or system libraries).

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::train::EpochMetrics;

/// Two panels, loss and accuracy, each with the training and validation curves.
pub fn curves_svg(history: &[EpochMetrics]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let panels = root.split_evenly((1, 2));
        let epochs = history.len().max(1) as f64;
        let max_loss = history.iter().flat_map(|m| [m.train_loss, m.val_loss]).fold(0.1f64, f64::max) * 1.05;
        let series: [(&str, f64, fn(&EpochMetrics) -> f64, fn(&EpochMetrics) -> f64); 2] = [
            ("loss", max_loss, |m| m.train_loss, |m| m.val_loss),
            ("accuracy", 1.0, |m| m.train_accuracy, |m| m.val_accuracy),
        ];
        for (panel, (title, y_max, train, val)) in panels.iter().zip(series) {
            let mut chart = ChartBuilder::on(panel)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(30)
                .y_label_area_size(45)
                .build_cartesian_2d(1f64..epochs.max(2.0), 0f64..y_max)
                .map_err(|e| anyhow!("{e}"))?;
            chart.configure_mesh().x_desc("epoch").draw().map_err(|e| anyhow!("{e}"))?;
            for (name, colour, f) in [("train", BLUE, train), ("validation", RED, val)] {
                chart
                    .draw_series(LineSeries::new(history.iter().map(|m| (m.epoch as f64, f(m))), colour.stroke_width(2)))
                    .map_err(|e| anyhow!("{e}"))?
                    .label(name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2)));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| anyhow!("{e}"))?;
        }
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    Ok(svg)
}
