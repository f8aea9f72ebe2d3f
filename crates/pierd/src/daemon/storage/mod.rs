//! Storage: mount points of a container (binds, volumes, tmpfs), local
//! volumes, archives in and out of a container (`cp`, `export`) and the
//! confined path lookups and descriptor-only walks they use.

pub(crate) mod archive;
pub(crate) mod confined;
pub(crate) mod made_for_mounts;
pub(crate) mod mounts;
pub(crate) mod tree_tar;
pub(crate) mod volumes;
