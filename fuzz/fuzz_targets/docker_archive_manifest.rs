//! A `docker save` archive whose `manifest.json` is the fuzz input, next to a few real files
//! (a config, a layer, a symlink that leaves the archive, an absolute path), then every blob
//! the index names is read back through the verifying reader.
#![no_main]

use std::io::{Read, Write};

use layerproof_image::docker_archive::DockerArchive;
use layerproof_image::{ImageSource, Root};
use libfuzzer_sys::fuzz_target;

const CONFIG_HEX: &str = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

fn archive(manifest: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, body: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, body)
    };
    add("manifest.json", manifest)?;
    add(&format!("{CONFIG_HEX}.json"), b"{}")?;
    add("layer.tar", &[0u8; 1024])?;
    add("sub/layer.tar", b"not a tar")?;
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_cksum();
    b.append_link(&mut h, "escape", "../../etc/passwd")?;
    b.into_inner()
}

fuzz_target!(|data: &[u8]| {
    let Ok(bytes) = archive(data) else {
        return;
    };
    let Ok(mut file) = tempfile::NamedTempFile::new() else {
        return;
    };
    if file.write_all(&bytes).is_err() {
        return;
    }
    let Ok(a) = DockerArchive::open(file.path()) else {
        return;
    };
    let _ = (a.tags(), a.is_legacy());
    if let Ok(Root::Loose(images)) = a.root() {
        for img in images {
            for desc in std::iter::once(&img.config).chain(&img.layers) {
                if let Ok(mut r) = a.blob(desc) {
                    let mut sink = Vec::new();
                    let _ = r.by_ref().take(1 << 20).read_to_end(&mut sink);
                }
            }
        }
    }
});
