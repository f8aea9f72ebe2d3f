//! pier-image
