//! OCI runtime spec building (pure).
