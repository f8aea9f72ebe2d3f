//! Query strings as pierd reads them (`application/x-www-form-urlencoded`
//! pairs, keys repeated), and the `filters=` values of the list and prune
//! endpoints (`pier_api::filters` and each endpoint's validation).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pier_api::filters::Filters;
use pierd::daemon::{volume_filters, ImageFilters, ListFilters};

fn filters(text: &str) {
    if let Ok(f) = Filters::parse(text) {
        // Both of docker's encodings read back to the same filters.
        match f.to_json() {
            Some(json) => assert_eq!(Filters::parse(&json).as_ref(), Ok(&f), "{json}"),
            None => assert!(f.is_empty()),
        }
        let _ = f.get_bool("dangling", false);
        let _ = f.match_kv_list("label", [("a", "b"), ("", "")]);
        let _ = f.fuzzy_match("id", "0123abcd");
        let _ = f.exact_match("status", "running");
    }
    let _ = ListFilters::parse(text);
    let _ = ImageFilters::parse(text);
    let _ = volume_filters(text);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    filters(text);
    let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(text) else {
        return;
    };
    let mut flag = Filters::new();
    for (k, v) in &pairs {
        match k.as_str() {
            "filters" => filters(v),
            "name" => {
                let _ = pierd::spec::validate_name(v.strip_prefix('/').unwrap_or(v));
            }
            "signal" => {
                let _ = pierd::spec::parse_signal(v);
            }
            // The CLI's `--filter k=v` flags.
            "filter" => {
                let _ = flag.add_flag(v);
            }
            _ => {}
        }
    }
    if let Some(json) = flag.to_json() {
        assert_eq!(Filters::parse(&json).as_ref(), Ok(&flag), "{json}");
    }
});
