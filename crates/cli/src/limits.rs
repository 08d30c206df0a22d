//! Resource limits for untrusted input, as one clap `Args` group shared by every command that
//! reads a tarball (`inspect`, `unpack`; flattened into `verify` and `rebuild` too).
//!
//! Each flag's long name is the limit's name in the library's errors
//! (`layerproof_archive::source::LimitError::limit`), so every "over the limit" message can say
//! `raise it with --<name>`. The defaults are generous: a real rootfs never reaches them, a
//! hostile one stops in bounded time and memory. See docs/reliability.md.
use layerproof_archive::{source, unpack};

/// Limits for reading untrusted tarballs (sizes accept K, M, G, T suffixes, powers of 1024).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Limits (untrusted input)")]
pub struct Limits {
    /// Stop when the decompressed tar stream exceeds this many bytes (decompression bombs).
    #[arg(long, value_name = "BYTES", default_value = "64G", value_parser = parse_size)]
    pub max_decompressed_bytes: u64,
    /// Stop at more entries than this, or a tree with more names (implied directories and
    /// replaced names count).
    #[arg(long, value_name = "N", default_value_t = unpack::DEFAULT_MAX_ENTRIES)]
    pub max_entries: u64,
    /// Stop at a name with more path components than this.
    #[arg(long, value_name = "N", default_value_t = unpack::DEFAULT_MAX_DEPTH)]
    pub max_depth: usize,
    /// Stop at a (cleaned) name or link target longer than this many bytes. Linux refuses 4096
    /// and more, so Docker could not extract such an entry anyway.
    #[arg(long, value_name = "BYTES", default_value_t = unpack::DEFAULT_MAX_PATH_LEN)]
    pub max_path_len: usize,
    /// Stop when all names, link targets and extended attributes add up to more than this many
    /// bytes (they are kept in memory).
    #[arg(long, value_name = "BYTES", default_value = "1G", value_parser = parse_size)]
    pub max_meta_bytes: u64,
    /// Stop when regular files' sizes add up to more than this many bytes (checked before a
    /// body is read: lying size fields, sparse files with terabyte holes).
    #[arg(long, value_name = "BYTES", default_value = "64G", value_parser = parse_size)]
    pub max_data_bytes: u64,
    /// Stop when resolving names (parents, link targets, the symlinks on the way) has looked up
    /// more than this many path components in all (long symlink chains make this quadratic).
    #[arg(long, value_name = "N", default_value_t = unpack::DEFAULT_MAX_LOOKUPS)]
    pub max_lookups: u64,
    /// Largest PAX extended header. Go's archive/tar (and so Docker) refuses more than 1 MiB;
    /// a lower value makes such headers an error of ours.
    #[arg(long, value_name = "BYTES", default_value = "1M", value_parser = parse_size)]
    pub max_pax_size: u64,
    /// Largest GNU long name or long link. Go's archive/tar (and so Docker) refuses more than
    /// 1 MiB; a lower value makes such entries an error of ours.
    #[arg(long, value_name = "BYTES", default_value = "1M", value_parser = parse_size)]
    pub max_long_name_size: u64,
    /// File bodies are kept in memory up to this many bytes, then in an anonymous temporary
    /// file.
    #[arg(long, value_name = "BYTES", default_value = "64M", value_parser = parse_size)]
    pub memory_budget: u64,
}

impl Default for Limits {
    fn default() -> Self {
        <Limits as clap::FromArgMatches>::from_arg_matches(
            &<Self as clap::Args>::augment_args(clap::Command::new("limits"))
                .get_matches_from(["limits"]),
        )
        .expect("the defaults parse")
    }
}

impl Limits {
    /// Apply the limits to the options of `layerproof_archive::source::add`.
    pub fn apply(&self, opts: &mut source::Options) {
        opts.decompress.max_decompressed_bytes = Some(self.max_decompressed_bytes);
        opts.read.max_pax_size = self.max_pax_size;
        opts.read.max_gnu_long_name = self.max_long_name_size;
        opts.read.max_path_len = opts.read.max_path_len.max(self.max_path_len);
        opts.unpack.max_entries = self.max_entries;
        opts.unpack.max_depth = self.max_depth;
        opts.unpack.max_path_len = self.max_path_len;
        opts.unpack.max_meta_bytes = self.max_meta_bytes;
        opts.unpack.max_data_bytes = self.max_data_bytes;
        opts.unpack.max_lookups = self.max_lookups;
        opts.unpack.memory_budget = self.memory_budget;
    }
}

/// Limits for reading untrusted images (`verify`, `explain`): each flag's long name is the
/// limit's name in `layerproof_image::Error::Limit`.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Limits (untrusted images)")]
pub struct ImageLimits {
    /// Stop at an image with more layers than this (a docker-archive's Layers list is checked
    /// before any layer is hashed). Docker itself stacks at most 125.
    #[arg(long, value_name = "N", default_value_t = layerproof_image::limits::DEFAULT_MAX_LAYERS)]
    pub max_layers: u64,
    /// Stop when the tree from the reference to its images (indexes, manifests, entries of
    /// other platforms) has more nodes than this.
    #[arg(long, value_name = "N", default_value_t = layerproof_image::limits::DEFAULT_MAX_MANIFESTS)]
    pub max_manifests: u64,
    /// Refuse a registry blob whose manifest declares more bytes than this, before the first
    /// byte is fetched.
    #[arg(long, value_name = "BYTES", default_value = "64G", value_parser = parse_size)]
    pub max_blob_bytes: u64,
}

impl ImageLimits {
    /// The limits as the image library takes them.
    pub fn get(&self) -> layerproof_image::Limits {
        layerproof_image::Limits {
            max_layers: self.max_layers,
            max_manifests: self.max_manifests,
            max_blob_bytes: self.max_blob_bytes,
        }
    }
}

/// A byte count: digits with an optional `K`, `M`, `G` or `T` suffix (powers of 1024; a
/// trailing `B` or `iB` is accepted).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("unknown size suffix in {s:?} (use K, M, G or T)")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (digits with an optional K, M, G or T)"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Defaults in the library and here must agree (a flag's default documents the library's).
const _: () = assert!(layerproof_archive::tar::MAX_SPECIAL_FILE_SIZE == 1 << 20);

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        limits: Limits,
        #[command(flatten)]
        image: ImageLimits,
    }

    #[test]
    fn image_limits_default_to_the_library_and_reach_it() {
        use clap::Parser;
        let cli = Cli::parse_from(["x"]);
        assert_eq!(cli.image.get(), layerproof_image::Limits::default());
        let cli = Cli::parse_from([
            "x",
            "--max-layers",
            "3",
            "--max-manifests",
            "4",
            "--max-blob-bytes",
            "5K",
        ]);
        let want = layerproof_image::Limits {
            max_layers: 3,
            max_manifests: 4,
            max_blob_bytes: 5 << 10,
        };
        assert_eq!(cli.image.get(), want);
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2t"), Ok(2 << 40));
        assert!(parse_size("").is_err());
        assert!(parse_size("1X").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999T").is_err());
    }

    /// Every limit the library can report has the flag its message tells the user to raise.
    #[test]
    fn every_library_limit_has_its_flag() {
        let cmd = Cli::command();
        for name in [
            "max-entries",
            "max-depth",
            "max-path-len",
            "max-meta-bytes",
            "max-data-bytes",
            "max-lookups",
            "max-decompressed-bytes",
            "max-pax-size",
            "max-long-name-size",
            "max-layers",
            "max-manifests",
            "max-blob-bytes",
        ] {
            assert!(
                cmd.get_arguments().any(|a| a.get_long() == Some(name)),
                "no --{name}"
            );
        }
    }

    #[test]
    fn defaults_match_the_library() {
        let mut from_flags = source::Options::default();
        Limits::default().apply(&mut from_flags);
        let lib = source::Options::default();
        assert_eq!(from_flags.unpack, lib.unpack);
        assert_eq!(from_flags.read, lib.read);
        assert_eq!(from_flags.decompress, lib.decompress);
    }

    #[test]
    fn flags_reach_the_options() {
        use clap::Parser;
        let cli = Cli::parse_from([
            "x",
            "--max-entries",
            "7",
            "--max-decompressed-bytes",
            "1M",
            "--max-depth",
            "3",
            "--max-path-len",
            "9",
            "--max-meta-bytes",
            "2K",
            "--max-data-bytes",
            "5K",
            "--max-lookups",
            "77",
            "--max-pax-size",
            "100",
            "--max-long-name-size",
            "200",
            "--memory-budget",
            "0",
        ]);
        let mut o = source::Options::default();
        cli.limits.apply(&mut o);
        assert_eq!(o.unpack.max_entries, 7);
        assert_eq!(o.decompress.max_decompressed_bytes, Some(1 << 20));
        assert_eq!(o.unpack.max_depth, 3);
        assert_eq!(o.unpack.max_path_len, 9);
        assert_eq!(o.unpack.max_meta_bytes, 2048);
        assert_eq!(o.unpack.max_data_bytes, 5 << 10);
        assert_eq!(o.unpack.max_lookups, 77);
        assert_eq!(o.read.max_pax_size, 100);
        assert_eq!(o.read.max_gnu_long_name, 200);
        assert_eq!(o.unpack.memory_budget, 0);
    }
}
