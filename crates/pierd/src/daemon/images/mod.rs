//! Images as the daemon uses them: resolve, import and load, commit, and
//! the image list/prune filters.

pub(crate) mod commit;
pub(crate) mod image_filters;
pub(crate) mod store;
