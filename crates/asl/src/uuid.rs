//! Version 4 UUIDs from random bits supplied by the caller (the stepper's seeded random source,
//! the OS's): request ids, message ids, `States.UUID`, `$uuid`, default execution names.

use std::fmt::Write as _;

/// The version 4 UUID of 128 random bits (`hi` the first 64): version 4 in the 13th hex
/// digit, variant `10` in the top bits of the 17th, lower-case hex.
pub fn v4(hi: u64, lo: u64) -> String {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&hi.to_be_bytes());
    b[8..].copy_from_slice(&lo.to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (k, byte) in b.iter().enumerate() {
        if matches!(k, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{byte:02x}");
    }
    s
}

/// [`v4`] of 128 bits in one number.
pub fn v4_u128(bits: u128) -> String {
    v4((bits >> 64) as u64, bits as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_variant_10() {
        for (hi, lo) in [(0, 0), (u64::MAX, u64::MAX), (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210)] {
            let u = v4(hi, lo);
            let groups: Vec<usize> = u.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12], "{u}");
            assert_eq!(&u[14..15], "4", "{u}");
            assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        }
        assert_eq!(v4(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210), "01234567-89ab-4def-bedc-ba9876543210");
        assert_eq!(
            v4_u128(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210),
            v4(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210)
        );
    }
}
