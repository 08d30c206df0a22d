//! One module per subcommand.
pub mod explain;
pub mod inspect;
pub mod profiles;
pub mod rebuild;
pub mod unpack;
pub mod verify;
