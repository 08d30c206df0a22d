//! One module per subcommand.
pub mod explain;
pub mod inspect;
pub mod profiles;
pub mod unpack;
