//! How model values are written to SQLite columns and read back.
//!
//! The file is not trusted: another program, a disk error or a hand edit may have put anything in
//! it, so every value read back goes through [`Cols`], which checks its type and range and turns
//! a bad value into [`StoreError::Corrupt`] naming the table and column (never a panic, never a
//! silent default). Writing goes through the `*_to_sql` functions here so that the encoding of
//! each type is defined once:
//!
//! - timestamps are RFC 3339 text with exactly nine fractional digits. Fixed width matters: it
//!   makes text order equal time order, so SQL `min()`, `max()` and `>=` on these columns are
//!   correct (`…05Z` and `…05.5Z` would compare the wrong way round);
//! - `u128` values (scan totals, checkpoint numbers) are decimal text, because SQLite integers
//!   are 64-bit;
//! - the checkpoint's `done_above` is a JSON array of decimal strings (JSON numbers lose
//!   precision above 2^53 in many readers).

use std::collections::BTreeSet;
use std::net::IpAddr;

use medsurface_model::text::printable;
use medsurface_model::{Checkpoint, Timestamp, Transport};
use rusqlite::types::ValueRef;
use rusqlite::Row;
use serde::de::DeserializeOwned;

use crate::StoreError;

/// The longest piece of a bad value quoted in a `Corrupt` error.
const QUOTE_CAP: usize = 64;

pub(crate) fn ts_to_sql(ts: Timestamp) -> String {
    format!("{ts:.9}")
}

pub(crate) fn checkpoint_to_sql(c: &Checkpoint) -> (String, String) {
    let above: Vec<String> = c.done_above.iter().map(u128::to_string).collect();
    // A Vec<String> always serializes; the fallback keeps this function total without unwrap.
    let above = serde_json::to_string(&above).unwrap_or_else(|_| "[]".to_owned());
    (c.watermark.to_string(), above)
}

pub(crate) fn transport_parse(s: &str) -> Option<Transport> {
    [Transport::Tcp, Transport::Udp]
        .into_iter()
        .find(|t| t.as_str() == s)
}

/// The union of two checkpoints: a number is done if either says so.
///
/// The store keeps the union of the stored checkpoint and each batch's, so a replayed older
/// batch can never move the checkpoint backwards (which would make `--resume` redo probes).
pub(crate) fn checkpoint_union(a: &Checkpoint, b: &Checkpoint) -> Checkpoint {
    let watermark = a.watermark.max(b.watermark);
    let done_above: BTreeSet<u128> = a
        .done_above
        .iter()
        .chain(&b.done_above)
        .copied()
        .filter(|&s| s >= watermark)
        .collect();
    let mut out = Checkpoint {
        watermark,
        done_above,
    };
    while out.done_above.remove(&out.watermark) {
        out.watermark += 1;
    }
    out
}

pub(crate) fn corrupt(table: &'static str, detail: String) -> StoreError {
    StoreError::Corrupt { table, detail }
}

/// Typed, checked access to the columns of one row of one table.
pub(crate) struct Cols<'a, 'r> {
    row: &'a Row<'r>,
    table: &'static str,
}

impl<'a, 'r> Cols<'a, 'r> {
    pub(crate) fn new(row: &'a Row<'r>, table: &'static str) -> Self {
        Cols { row, table }
    }

    fn bad(&self, col: &str, what: &str) -> StoreError {
        corrupt(self.table, format!("column {col}: {what}"))
    }

    fn bad_value(&self, col: &str, what: &str, value: &str) -> StoreError {
        let quoted = printable(value.as_bytes(), QUOTE_CAP);
        corrupt(self.table, format!("column {col}: {what}: {quoted:?}"))
    }

    fn value(&self, col: &str) -> Result<ValueRef<'_>, StoreError> {
        self.row
            .get_ref(col)
            .map_err(|e| self.bad(col, &format!("cannot be read ({e})")))
    }

    pub(crate) fn opt_text(&self, col: &str) -> Result<Option<&str>, StoreError> {
        match self.value(col)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|_| self.bad(col, "text is not valid UTF-8")),
            other => Err(self.bad(col, &format!("expected text, found {}", other.data_type()))),
        }
    }

    pub(crate) fn text(&self, col: &str) -> Result<&str, StoreError> {
        self.opt_text(col)?
            .ok_or_else(|| self.bad(col, "unexpected NULL"))
    }

    pub(crate) fn opt_string(&self, col: &str) -> Result<Option<String>, StoreError> {
        Ok(self.opt_text(col)?.map(str::to_owned))
    }

    pub(crate) fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError> {
        match self.value(col)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(i) => Ok(Some(i)),
            other => Err(self.bad(
                col,
                &format!("expected an integer, found {}", other.data_type()),
            )),
        }
    }

    pub(crate) fn int(&self, col: &str) -> Result<i64, StoreError> {
        self.opt_int(col)?
            .ok_or_else(|| self.bad(col, "unexpected NULL"))
    }

    /// An integer that must fit `T` (a port, a count, a shard number).
    pub(crate) fn opt_uint<T: TryFrom<i64>>(&self, col: &str) -> Result<Option<T>, StoreError> {
        match self.opt_int(col)? {
            None => Ok(None),
            Some(i) => T::try_from(i).map(Some).map_err(|_| {
                self.bad(
                    col,
                    &format!("{i} is out of range for {}", std::any::type_name::<T>()),
                )
            }),
        }
    }

    pub(crate) fn uint<T: TryFrom<i64>>(&self, col: &str) -> Result<T, StoreError> {
        self.opt_uint(col)?
            .ok_or_else(|| self.bad(col, "unexpected NULL"))
    }

    /// A non-negative number stored as decimal text (`u64` or `u128`).
    pub(crate) fn decimal<T: std::str::FromStr>(&self, col: &str) -> Result<T, StoreError> {
        let s = self.text(col)?;
        s.parse()
            .map_err(|_| self.bad_value(col, "not a decimal number", s))
    }

    pub(crate) fn opt_timestamp(&self, col: &str) -> Result<Option<Timestamp>, StoreError> {
        match self.opt_text(col)? {
            None => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| self.bad_value(col, "not an RFC 3339 timestamp", s)),
        }
    }

    pub(crate) fn timestamp(&self, col: &str) -> Result<Timestamp, StoreError> {
        self.opt_timestamp(col)?
            .ok_or_else(|| self.bad(col, "unexpected NULL"))
    }

    pub(crate) fn json<T: DeserializeOwned>(&self, col: &str) -> Result<T, StoreError> {
        let s = self.text(col)?;
        serde_json::from_str(s).map_err(|e| self.bad(col, &format!("invalid JSON ({e})")))
    }

    /// JSON that may be NULL.
    pub(crate) fn opt_json<T: DeserializeOwned>(&self, col: &str) -> Result<Option<T>, StoreError> {
        match self.opt_text(col)? {
            None => Ok(None),
            Some(s) => serde_json::from_str(s)
                .map(Some)
                .map_err(|e| self.bad(col, &format!("invalid JSON ({e})"))),
        }
    }

    /// Text that must be one of a closed set of names (outcome, source, status, transport).
    pub(crate) fn name<T>(&self, col: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
        let s = self.text(col)?;
        parse(s).ok_or_else(|| self.bad_value(col, "unknown name", s))
    }

    pub(crate) fn ip(&self, col: &str) -> Result<IpAddr, StoreError> {
        let s = self.text(col)?;
        s.parse()
            .map_err(|_| self.bad_value(col, "not an IP address", s))
    }

    pub(crate) fn checkpoint(
        &self,
        watermark_col: &str,
        above_col: &str,
    ) -> Result<Checkpoint, StoreError> {
        let watermark: u128 = self.decimal(watermark_col)?;
        let above: Vec<String> = self.json(above_col)?;
        let mut done_above = BTreeSet::new();
        for s in &above {
            let seq: u128 = s
                .parse()
                .map_err(|_| self.bad_value(above_col, "not a decimal number", s))?;
            if seq < watermark {
                return Err(self.bad(
                    above_col,
                    &format!("{seq} is below the watermark {watermark}"),
                ));
            }
            done_above.insert(seq);
        }
        Ok(Checkpoint {
            watermark,
            done_above,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_text_order_is_time_order() {
        let whole: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let later: Timestamp = "2026-01-02T03:04:05.5Z".parse().unwrap();
        let (a, b) = (ts_to_sql(whole), ts_to_sql(later));
        assert_eq!(a.len(), b.len());
        assert!(a < b, "{a} should sort before {b}");
        assert_eq!(a.parse::<Timestamp>().unwrap(), whole);
        assert_eq!(b.parse::<Timestamp>().unwrap(), later);
    }

    #[test]
    fn checkpoint_union_is_the_set_union() {
        let mut a = Checkpoint::default();
        for s in [0, 1, 2, 5, 9] {
            a.mark_done(s);
        }
        let mut b = Checkpoint::default();
        for s in [0, 1, 2, 3, 4, 7] {
            b.mark_done(s);
        }
        let u = checkpoint_union(&a, &b);
        assert_eq!(u.watermark, 6);
        assert_eq!(u.done_above, BTreeSet::from([7, 9]));
        assert_eq!(checkpoint_union(&b, &a), u);
        assert_eq!(
            checkpoint_union(&u, &a),
            u,
            "union with a subset changes nothing"
        );
    }

    #[test]
    fn checkpoint_text_round_trips_above_u64() {
        let big = u128::from(u64::MAX) + 10;
        let c = Checkpoint {
            watermark: big,
            done_above: BTreeSet::from([big + 2, u128::MAX]),
        };
        let (w, above) = checkpoint_to_sql(&c);
        assert_eq!(w, big.to_string());
        let parsed: Vec<String> = serde_json::from_str(&above).unwrap();
        assert_eq!(parsed, vec![(big + 2).to_string(), u128::MAX.to_string()]);
    }
}
