//! `Data::decode`: the record format every compare-and-swap store reads.
//! Any bytes decode or are a `CasError::Decode`; what decodes encodes to
//! bytes that decode to the same data. A value need not read back as a
//! JSON tree (a lone surrogate escape such as `"\ude00"` is well-formed
//! JSON text that `serde_json` will not turn into a string): reading it is
//! a decode error of its field, which the target checks is no panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::cas::{CasError, Data};

fuzz_target!(|bytes: &[u8]| {
    let data = match Data::decode(bytes) {
        Ok(data) => data,
        Err(CasError::Decode(_)) => return,
        Err(other) => panic!("decoding bytes failed with {other:?}, not a decode error"),
    };
    for (_, value) in data.iter() {
        let _ = value.to_value();
    }
    let encoded = data.encode();
    let again = Data::decode(&encoded).expect("an encoded record decodes");
    assert_eq!(
        again, data,
        "a decoded record does not survive encode and decode"
    );
    assert_eq!(again.encode(), encoded, "encoding is not stable");
});
