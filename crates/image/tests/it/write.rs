//! The writers' output is read back by this crate's own sources: OCI layout (uncompressed and
//! gzip layers) and docker-archive, with every blob digest-verified by the readers.
use std::io::{Read, Write};
use std::path::Path;

use layerproof_image::chain::{self, Chain};
use layerproof_image::write::{DockerArchiveWriter, LayerCompression, LayerWriter, OciWriter};
use layerproof_image::{
    Error, ImageRef, ImageSource, OpenOptions, Platform, PlatformSelector, Transport,
};
use sha2::{Digest as _, Sha256};

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// Two distinct "layers" (the readers never look inside a layer tar).
fn layers() -> Vec<Vec<u8>> {
    let mut a = vec![0u8; 3 * 512];
    a[..7].copy_from_slice(b"a-layer");
    let b: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    vec![a, b]
}

fn config_for(layers: &[Vec<u8>]) -> Vec<u8> {
    let ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": ids},
    }))
    .unwrap()
}

/// Writes `data` in awkward pieces, as a streaming producer would.
fn feed(w: &mut LayerWriter, data: &[u8]) {
    for chunk in data.chunks(4093) {
        w.write_all(chunk).unwrap();
    }
    w.flush().unwrap();
}

fn open(r: &str) -> Box<dyn ImageSource> {
    layerproof_image::open(&r.parse::<ImageRef>().unwrap(), &OpenOptions::default()).unwrap()
}

fn resolve(src: &dyn ImageSource) -> Chain {
    chain::resolve(
        src,
        &PlatformSelector::All,
        layerproof_image::DEFAULT_MAX_MANIFEST,
    )
    .unwrap()
}

/// Reads every layer back through the verifying reader and compares with what was written.
#[track_caller]
fn check_read_back(src: &dyn ImageSource, config: &[u8], want: &[Vec<u8>]) {
    let c = resolve(src);
    let images = c.images();
    assert_eq!(images.len(), 1);
    let img = images[0];
    assert_eq!(img.config.digest.to_string(), sha256(config));
    let got_config = src.blob(&img.config).unwrap().read_all(1 << 20).unwrap();
    assert_eq!(got_config, config);
    assert_eq!(img.layers.len(), want.len());
    for (l, data) in img.layers.iter().zip(want) {
        let mut blob = Vec::new();
        src.blob(&l.blob).unwrap().read_to_end(&mut blob).unwrap();
        let tar = if blob.starts_with(&[0x1f, 0x8b]) {
            let mut t = Vec::new();
            flate2::read::GzDecoder::new(&blob[..])
                .read_to_end(&mut t)
                .unwrap();
            t
        } else {
            blob
        };
        assert_eq!(&tar, data);
        assert_eq!(
            l.diff_id.as_ref().map(|d| d.to_string()),
            Some(sha256(data))
        );
    }
}

fn write_oci(dir: &Path, compression: LayerCompression, data: &[Vec<u8>], config: &[u8]) {
    let mut w = OciWriter::create(dir).unwrap();
    for d in data {
        let mut lw = w.layer(compression).unwrap();
        feed(&mut lw, d);
        assert_eq!(lw.len(), d.len() as u64);
        let blob = w.add_layer(lw).unwrap();
        assert_eq!(blob.diff_id.to_string(), sha256(d));
        assert_eq!(blob.diff_size, d.len() as u64);
        if compression == LayerCompression::None {
            assert_eq!(blob.digest, blob.diff_id);
        } else {
            assert_ne!(blob.digest, blob.diff_id);
        }
    }
    let platform = Platform::parse("linux/amd64").unwrap();
    let written = w.finish(config, Some(&platform), Some("v1")).unwrap();
    assert_eq!(written.config.digest.to_string(), sha256(config));
    assert_eq!(written.layers.len(), data.len());
}

#[test]
fn oci_layout_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let data = layers();
    let config = config_for(&data);
    for (name, compression) in [
        ("plain", LayerCompression::None),
        ("gz", LayerCompression::Gzip),
    ] {
        let dir = tmp.path().join(name);
        write_oci(&dir, compression, &data, &config);
        // no temporary files are left behind
        for e in std::fs::read_dir(dir.join("blobs/sha256")).unwrap() {
            let n = e.unwrap().file_name().into_string().unwrap();
            assert_eq!(n.len(), 64, "{n}");
        }
        for r in [
            format!("oci:{}", dir.display()),
            format!("oci:{}:v1", dir.display()),
        ] {
            let src = open(&r);
            assert_eq!(src.transport(), Transport::Oci);
            check_read_back(src.as_ref(), &config, &data);
        }
        assert_eq!(open(&format!("oci:{}", dir.display())).tags(), ["v1"]);
    }
}

#[test]
fn docker_archive_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let data = layers();
    let config = config_for(&data);
    let path = tmp.path().join("image.tar");
    let mut w = DockerArchiveWriter::create(&path).unwrap();
    for d in &data {
        let mut lw = w.layer().unwrap();
        feed(&mut lw, d);
        w.add_layer(lw).unwrap();
    }
    let written = w
        .finish(&config, &["layerproof/test:1".to_string()])
        .unwrap();
    assert_eq!(written.config.digest.to_string(), sha256(&config));
    // the staging directory is gone; only the archive is left
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(left.len(), 1);

    let archive = layerproof_image::docker_archive::DockerArchive::open(&path).unwrap();
    assert!(archive.is_legacy());
    assert_eq!(archive.tags(), ["layerproof/test:1"]);
    check_read_back(&archive, &config, &data);

    // the members are the legacy `docker save` names
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(std::fs::File::open(&path).unwrap());
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        assert_eq!(e.header().mtime().unwrap(), 0);
        names.push(e.path().unwrap().display().to_string());
    }
    let d0 = sha256(&data[0])[7..].to_string();
    let d1 = sha256(&data[1])[7..].to_string();
    assert_eq!(
        names,
        [
            format!("{d0}/"),
            format!("{d0}/layer.tar"),
            format!("{d1}/"),
            format!("{d1}/layer.tar"),
            format!("{}.json", &sha256(&config)[7..]),
            "manifest.json".to_string(),
        ]
    );
}

#[test]
fn a_config_that_names_other_layers_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = layers();
    let config = config_for(&data[..1]);
    let mut w = OciWriter::create(&tmp.path().join("oci")).unwrap();
    for d in &data {
        let mut lw = w.layer(LayerCompression::None).unwrap();
        feed(&mut lw, d);
        w.add_layer(lw).unwrap();
    }
    assert!(matches!(
        w.finish(&config, None, None),
        Err(Error::Layout { .. })
    ));

    let path = tmp.path().join("x.tar");
    let w = DockerArchiveWriter::create(&path).unwrap();
    assert!(matches!(w.finish(&config, &[]), Err(Error::Layout { .. })));
    assert!(!path.exists());
}

#[test]
fn an_occupied_output_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("something"), b"x").unwrap();
    assert!(matches!(
        OciWriter::create(tmp.path()),
        Err(Error::Layout { .. })
    ));
    assert!(DockerArchiveWriter::create(tmp.path()).is_err());
}
