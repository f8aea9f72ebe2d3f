//! Image references (`pier_image::Reference`): docker's grammar and
//! normalisation. Whatever parses prints in forms that parse back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pier_image::Reference;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = Reference::parse(text) {
        assert!(
            r.tag().is_some() || r.digest().is_some(),
            "{text:?}: neither tag nor digest"
        );
        // The familiar forms read back as the same reference, except where
        // docker's own form is ambiguous: a Docker Hub path whose first
        // component looks like a registry (`docker.io/index.docker.io/x`
        // shows as `index.docker.io/x`, which names `docker.io/x`).
        let first = r.path().split('/').next().unwrap_or("");
        let ambiguous =
            r.domain() == "docker.io" && r.path().contains('/') && (first.contains(['.', ':']) || first == "localhost");
        let mut forms = vec![r.canonical()];
        if !ambiguous {
            forms.push(r.to_string());
        }
        // docker refuses a bare 64-hex name (an image id), not `<hex>:tag`.
        let familiar = r.familiar_name();
        let hex_id = familiar.len() == 64 && familiar.bytes().all(|b| b.is_ascii_hexdigit());
        if !ambiguous && !hex_id {
            let named = Reference::parse(&familiar).unwrap_or_else(|e| panic!("{text:?}: familiar {familiar:?}: {e}"));
            assert_eq!(named.name(), r.name(), "{text:?}: familiar {familiar:?}");
        }
        for form in forms {
            let back = Reference::parse(&form).unwrap_or_else(|e| panic!("{text:?} printed as {form:?}: {e}"));
            assert_eq!(back, r, "{text:?} printed as {form:?}");
        }
    }
    // `?repo=…&tag=…` of tag, commit and import.
    if let Some((repo, tag)) = text.split_once('\n') {
        if let Ok(r) = Reference::from_repo_tag(repo, tag) {
            let back = Reference::parse(&r.canonical()).expect("from_repo_tag result parses");
            assert_eq!(back, r);
        }
    }
});
