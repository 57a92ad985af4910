//! GSM-7 or UCS-2, and how many SMS segments a text takes (3GPP TS 23.038).
//!
//! ```
//! use jalin_channels::sms::encoding::{analyze, Encoding};
//! let plain = analyze("Pesanan SO-1 dikirim. Lacak: https://t.id/x");
//! assert_eq!((plain.encoding, plain.segments), (Encoding::Gsm7, 1));
//! // Curly quotes or an emoji are not in the GSM alphabet: the whole text becomes UCS-2.
//! let fancy = analyze("Terima kasih “Budi” 🙏");
//! assert_eq!(fancy.encoding, Encoding::Ucs2);
//! ```

use serde::Serialize;

/// How an SMS is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// The GSM 7-bit default alphabet: 160 characters, or 153 per segment when split.
    Gsm7,
    /// UCS-2 (UTF-16): 70 code units, or 67 per segment when split.
    Ucs2,
}

/// What a text costs as an SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SmsInfo {
    /// The encoding it needs.
    pub encoding: Encoding,
    /// Characters (Unicode scalar values).
    pub characters: usize,
    /// Septets (GSM-7, escaped characters count twice) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Segments (separate SMS billed) it is sent as.
    pub segments: usize,
}

const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Septets a character takes in GSM-7 (1, or 2 for the extension table), or `None`.
pub fn gsm_septets(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Counts how `text` is sent.
pub fn analyze(text: &str) -> SmsInfo {
    let characters = text.chars().count();
    let gsm: Option<Vec<usize>> = text.chars().map(gsm_septets).collect();
    let (encoding, sizes, single, per_segment) = match gsm {
        Some(sizes) => (Encoding::Gsm7, sizes, 160, 153),
        None => (
            Encoding::Ucs2,
            text.chars().map(char::len_utf16).collect(),
            70,
            67,
        ),
    };
    let units: usize = sizes.iter().sum();
    let segments = if units <= single {
        1
    } else {
        // Fill segments greedily; an escape pair or a surrogate pair is never split.
        let mut segments = 1;
        let mut used = 0;
        for s in sizes {
            if used + s > per_segment {
                segments += 1;
                used = 0;
            }
            used += s;
        }
        segments
    };
    SmsInfo {
        encoding,
        characters,
        units,
        segments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_boundaries() {
        assert_eq!(analyze(&"a".repeat(160)).segments, 1);
        assert_eq!(analyze(&"a".repeat(161)).segments, 2);
        assert_eq!(analyze(&"a".repeat(306)).segments, 2);
        assert_eq!(analyze(&"a".repeat(307)).segments, 3);
        // € is two septets: 80 of them fill one SMS exactly.
        let euro = analyze(&"€".repeat(80));
        assert_eq!(
            (euro.encoding, euro.units, euro.segments),
            (Encoding::Gsm7, 160, 1)
        );
        // 152 plain + one escape pair cannot share the first segment's last septet.
        assert_eq!(
            analyze(&format!("{}€{}", "a".repeat(152), "a".repeat(10))).segments,
            2
        );
        assert_eq!(analyze(&"é".repeat(70)).encoding, Encoding::Gsm7);
        let ucs = analyze(&"ş".repeat(70));
        assert_eq!((ucs.encoding, ucs.segments), (Encoding::Ucs2, 1));
        assert_eq!(analyze(&"ş".repeat(71)).segments, 2);
        assert_eq!(analyze(&"ş".repeat(134)).segments, 2);
        assert_eq!(analyze(&"ş".repeat(135)).segments, 3);
        // An emoji is two UTF-16 units and is never split across segments.
        let emoji = analyze(&format!("{}🙏", "a".repeat(66)));
        assert_eq!((emoji.units, emoji.segments), (68, 1));
        assert_eq!(analyze("").segments, 1);
        assert_eq!(
            analyze("Halo Budi, pesanan Anda “siap”").encoding,
            Encoding::Ucs2
        );
    }
}
