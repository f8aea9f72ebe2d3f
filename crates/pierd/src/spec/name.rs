//! Container names: docker's rule `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`.

use super::SpecError;

/// The longest name we accept. Docker sets no limit, but a name lands in
/// JSON records, logs and error messages; 255 bytes is plenty.
pub const MAX_NAME_LEN: usize = 255;

/// Checks a container name (with or without docker's leading `/`) against
/// docker's rule and [`MAX_NAME_LEN`].
pub fn validate_name(name: &str) -> Result<(), SpecError> {
    if name.len() > MAX_NAME_LEN {
        return Err(SpecError::NameTooLong {
            len: name.len(),
            max: MAX_NAME_LEN,
        });
    }
    let bare = name.strip_prefix('/').unwrap_or(name);
    let bytes = bare.as_bytes();
    let valid = bytes.len() >= 2
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(SpecError::InvalidName { name: name.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names_pass() {
        for name in ["web", "/web", "a1", "my_app.v2-x", "0x", "A-b"] {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn bad_names_fail_with_docker_message() {
        for name in ["", "a", "/", "/a", "_a", ".a", "-a", "a/b", "../x", "a b", "ä1", "a:b"] {
            assert!(validate_name(name).is_err(), "{name}");
        }
        assert_eq!(
            validate_name("../x").expect_err("must fail").to_string(),
            "Invalid container name (../x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        );
    }

    #[test]
    fn huge_names_fail() {
        let huge = "a".repeat(1 << 20);
        assert!(matches!(validate_name(&huge), Err(SpecError::NameTooLong { .. })));
        assert_eq!(validate_name(&"a".repeat(MAX_NAME_LEN)), Ok(()));
    }
}
