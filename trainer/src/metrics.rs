//! Classification metrics from a confusion matrix: accuracy, balanced accuracy, per-class
//! precision / recall / F1.

use serde::Serialize;

/// `matrix[truth][predicted]` counts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Confusion {
    pub matrix: Vec<Vec<usize>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub class: String,
    pub support: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Confusion {
    pub fn new(classes: usize) -> Self {
        Self { matrix: vec![vec![0; classes]; classes] }
    }

    #[cfg(test)]
    pub fn from_pairs(classes: usize, pairs: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let mut c = Self::new(classes);
        for (truth, predicted) in pairs {
            c.add(truth, predicted);
        }
        c
    }

    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.matrix[truth][predicted] += 1;
    }

    pub fn total(&self) -> usize {
        self.matrix.iter().flatten().sum()
    }

    pub fn correct(&self) -> usize {
        (0..self.matrix.len()).map(|i| self.matrix[i][i]).sum()
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    /// Mean recall over the classes that occur in the truth (sklearn's definition).
    pub fn balanced_accuracy(&self) -> f64 {
        let recalls: Vec<f64> = (0..self.matrix.len())
            .filter(|&i| self.support(i) > 0)
            .map(|i| ratio(self.matrix[i][i], self.support(i)))
            .collect();
        if recalls.is_empty() { 0.0 } else { recalls.iter().sum::<f64>() / recalls.len() as f64 }
    }

    pub fn support(&self, class: usize) -> usize {
        self.matrix[class].iter().sum()
    }

    pub fn per_class(&self, names: &[&str]) -> Vec<ClassMetrics> {
        (0..self.matrix.len())
            .map(|i| {
                let predicted: usize = self.matrix.iter().map(|row| row[i]).sum();
                let precision = ratio(self.matrix[i][i], predicted);
                let recall = ratio(self.matrix[i][i], self.support(i));
                let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
                ClassMetrics { class: names[i].to_string(), support: self.support(i), precision, recall, f1 }
            })
            .collect()
    }

    /// A plain-text table, rows = truth, columns = prediction.
    pub fn render(&self, names: &[&str]) -> String {
        let labels: Vec<String> = names.iter().enumerate().map(|(i, n)| format!("{i} {n}")).collect();
        let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4).max(7);
        let mut s = format!("{:>width$} │", "truth ↓");
        for (j, _) in names.iter().enumerate() {
            s += &format!(" {j:>5}");
        }
        s += "\n";
        for (i, row) in self.matrix.iter().enumerate() {
            s += &format!("{:>width$} │", labels[i]);
            for v in row {
                s += &format!(" {v:>5}");
            }
            s += "\n";
        }
        s
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Mean and sample standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_hand_computation() {
        // truth 0: 3 right, 1 as class 1; truth 1: 1 right; truth 2: 2 as class 0.
        let c = Confusion::from_pairs(3, [(0, 0), (0, 0), (0, 0), (0, 1), (1, 1), (2, 0), (2, 0)]);
        assert_eq!(c.total(), 7);
        assert!((c.accuracy() - 4.0 / 7.0).abs() < 1e-12);
        assert!((c.balanced_accuracy() - (0.75 + 1.0 + 0.0) / 3.0).abs() < 1e-12);
        let per = c.per_class(&["a", "b", "c"]);
        assert!((per[0].precision - 0.6).abs() < 1e-12 && (per[0].recall - 0.75).abs() < 1e-12);
        assert!((per[0].f1 - 2.0 * 0.6 * 0.75 / 1.35).abs() < 1e-12);
        assert_eq!((per[2].precision, per[2].recall, per[2].f1), (0.0, 0.0, 0.0));
        assert_eq!(per[1].support, 1);
        let (m, s) = mean_std(&[0.5, 0.7, 0.9]);
        assert!((m - 0.7).abs() < 1e-12 && (s - 0.2).abs() < 1e-12);
    }

    #[test]
    fn balanced_accuracy_ignores_absent_classes() {
        let c = Confusion::from_pairs(3, [(0, 0), (1, 0)]);
        assert!((c.balanced_accuracy() - 0.5).abs() < 1e-12);
    }
}
