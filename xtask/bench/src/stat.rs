//! The median of a scenario's rounds and their spread: what the report,
//! the chart and the memory figures all summarize their rounds with.

use serde_json::{json, Value};

/// The median of some numbers, and their range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    pub fn of(values: &[f64]) -> Option<Stat> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: sorted[0],
            max: sorted[n - 1],
        })
    }

    /// Half the range, as a percentage of the median: `±3%`.
    pub fn spread(&self) -> String {
        if self.median == 0.0 {
            return String::new();
        }
        format!("±{:.0}%", (self.max - self.min) / 2.0 / self.median * 100.0)
    }

    pub fn json(&self) -> Value {
        json!({"median": self.median, "min": self.min, "max": self.max})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_spreads() {
        let stat = Stat::of(&[3.0, 1.0, 2.0]).expect("values");
        assert_eq!((stat.median, stat.min, stat.max), (2.0, 1.0, 3.0));
        assert_eq!(Stat::of(&[1.0, 2.0, 3.0, 4.0]).map(|s| s.median), Some(2.5));
        assert_eq!(stat.spread(), "±50%");
        assert_eq!(Stat::of(&[]), None);
    }
}
