//! Small numbers as text that is already there, so that a header carrying one (a body's
//! length, a poll's first sequence number) costs no allocation.

/// Numbers below this have a table entry.
pub const SMALL_DECIMALS: u64 = 10_000;

/// Every number below [`SMALL_DECIMALS`], right-aligned in four digits, one after another:
/// text checked once, at compile time, so reading an entry costs no UTF-8 check.
static DIGITS: &str = match core::str::from_utf8(&digits()) {
    Ok(text) => text,
    Err(_) => panic!("decimal digits are ASCII"),
};

const TABLE_BYTES: usize = 4 * SMALL_DECIMALS as usize;

const fn digits() -> [u8; TABLE_BYTES] {
    let mut table = [b'0'; TABLE_BYTES];
    let mut n = 0;
    while n < SMALL_DECIMALS as usize {
        let (mut rest, mut place) = (n, 4);
        while rest > 0 {
            place -= 1;
            table[4 * n + place] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        n += 1;
    }
    table
}

/// `n` in decimal, without leading zeros, when `n` is below [`SMALL_DECIMALS`].
///
/// ```
/// use longpoll_core::decimal::small_decimal;
///
/// assert_eq!(small_decimal(0), Some("0"));
/// assert_eq!(small_decimal(1_024), Some("1024"));
/// assert_eq!(small_decimal(10_000), None);
/// ```
pub fn small_decimal(n: u64) -> Option<&'static str> {
    let len = match n {
        0..10 => 1,
        10..100 => 2,
        100..1_000 => 3,
        1_000..SMALL_DECIMALS => 4,
        _ => return None,
    };
    let end = 4 * (n as usize + 1);
    DIGITS.get(end - len..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_small_number_reads_as_its_decimal() {
        for n in 0..SMALL_DECIMALS {
            assert_eq!(small_decimal(n), Some(n.to_string().as_str()), "{n}");
        }
        for n in [SMALL_DECIMALS, SMALL_DECIMALS + 1, u64::MAX] {
            assert_eq!(small_decimal(n), None, "{n}");
        }
    }
}
