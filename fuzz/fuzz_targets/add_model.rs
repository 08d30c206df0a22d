//! Docker's ADD on arbitrary bytes: detect, decompress, read, unpack into a tree, then walk and
//! dump the tree. The first byte picks the name rules so both engine generations are covered.
#![no_main]

use layerproof_archive::source::{self, Added};
use layerproof_archive::unpack::NameRules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, data)) = data.split_first() else {
        return;
    };
    let mut opts = source::Options::default();
    // Small bounds keep executions fast (bombs among the seeds end at 256 KiB, bodies stay in
    // memory); the default limits are checked by the hostile corpus.
    opts.decompress.max_decompressed_bytes = Some(256 << 10);
    opts.read.max_entries = Some(20_000);
    opts.unpack.max_entries = 20_000;
    opts.unpack.memory_budget = 2 << 20;
    opts.unpack.max_lookups = 1_000_000;
    opts.unpack.max_data_bytes = 4 << 20;
    opts.unpack.name_rules = if sel & 1 == 0 {
        NameRules::Moby
    } else {
        NameRules::GoArchive03
    };
    opts.unpack.bound_symlink_times = sel & 2 == 0;
    if sel & 4 != 0 {
        opts.unpack.chown = Some((i64::from(sel), -1));
    }
    if let Ok(Added::Archive(a)) = source::add(data, &opts)
        && let Ok(u) = a.outcome
    {
        let _ = u.tree.dump();
        for e in u.tree.walk() {
            let _ = u.tree.path_of(e.node);
        }
    }
});
