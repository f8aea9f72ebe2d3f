//! pier-log
