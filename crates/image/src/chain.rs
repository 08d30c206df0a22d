//! The digest chain of an image: index → per-platform manifests → config (image ID) → layer
//! blobs → diff_ids, and which digest each tool shows. Used by `layerproof explain`.
use std::collections::HashSet;
use std::fmt::Write as _;

use crate::digest::Digest;
use crate::error::Error;
use crate::limits::Limits;
use crate::manifest::{ConfigSummary, Descriptor, Manifest, media};
use crate::platform::{Platform, PlatformSelector};
use crate::source::{ImageSource, LooseImage, Root, Transport};

/// Largest image config read into memory.
pub const MAX_CONFIG: u64 = 8 << 20;
const MAX_DEPTH: usize = 8;

/// One layer: the published blob and the diff_id the config pairs with it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Layer {
    /// The blob as published (compressed digest, size, media type).
    pub blob: Descriptor,
    /// `rootfs.diff_ids[i]`: sha256 of the uncompressed tar.
    pub diff_id: Option<Digest>,
}

/// One image (one platform).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Image {
    /// The manifest (absent in legacy docker-archives).
    pub manifest: Option<Descriptor>,
    /// The config blob; its digest is the image ID.
    pub config: Descriptor,
    /// What the config says.
    pub summary: ConfigSummary,
    /// The layers, bottom first.
    pub layers: Vec<Layer>,
    /// Set when the manifest lists a different number of layers than the config's diff_ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A node of the tree.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Node {
    /// An index or manifest list (or an OCI layout's unaddressed `index.json`).
    Index {
        /// The index's descriptor (`None` for `index.json`).
        descriptor: Option<Descriptor>,
        /// Its selected children.
        children: Vec<Node>,
    },
    /// An image.
    Image(Box<Image>),
    /// An entry not followed (other platform, attestation), kept so the tree is complete.
    Skipped {
        /// The entry.
        descriptor: Descriptor,
        /// Why.
        reason: String,
    },
}

/// Which digest each tool shows for this reference.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ShownBy {
    /// `docker pull` prints `Digest: …`: the digest the reference resolved to (top of the chain).
    pub docker_pull: Option<Digest>,
    /// `docker image ls --digests` shows the same repo digest (after a pull; `<none>` after `docker load`).
    pub docker_image_ls_digests: Option<Digest>,
    /// A registry web page (Docker Hub's tag page) lists the per-platform manifest digests.
    pub registry_web_page: Vec<Digest>,
    /// `docker image ls` IMAGE ID with the classic (graphdriver) store: the config digest.
    pub image_id: Vec<Digest>,
    /// Explanations, one per line.
    pub notes: Vec<String>,
}

/// The whole chain.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Chain {
    /// The reference as given.
    pub reference: String,
    /// How it was read.
    pub transport: Transport,
    /// Tags the source records.
    pub tags: Vec<String>,
    /// The tree.
    pub root: Node,
    /// Which digest each tool shows.
    pub shown_by: ShownBy,
}

struct Walker<'a> {
    src: &'a dyn ImageSource,
    sel: &'a PlatformSelector,
    max_manifest: u64,
    available: Vec<String>,
    limits: Limits,
    /// Nodes of the tree so far (against `limits.max_manifests`).
    nodes: u64,
    /// Manifests and indexes already walked: a DAG of indexes that name one another many times
    /// is walked once per digest, not once per path.
    walked: HashSet<Digest>,
}

impl Walker<'_> {
    /// Counts one more node of the tree.
    fn count(&mut self) -> Result<(), Error> {
        self.nodes += 1;
        let name = || format!("the index tree of {}", self.src.name());
        self.limits.manifests(name, self.nodes)
    }

    fn image(
        &mut self,
        manifest: Option<Descriptor>,
        config: Descriptor,
        layers: Vec<Descriptor>,
    ) -> Result<Image, Error> {
        let what = || {
            let d = manifest.as_ref().unwrap_or(&config);
            format!("image {} of {}", d.digest, self.src.name())
        };
        self.limits.layers(what, layers.len())?;
        // checked before the first byte: a registry source spools a whole blob before reading
        if config.size > MAX_CONFIG {
            return Err(Error::TooLarge {
                what: format!("config {} (declared {} bytes)", config.digest, config.size),
                limit: MAX_CONFIG,
            });
        }
        let bytes = self.src.blob(&config)?.read_all(MAX_CONFIG)?;
        let summary = ConfigSummary::parse(&bytes, &format!("config {}", config.digest))?;
        let warning = (summary.diff_ids.len() != layers.len()).then(|| {
            format!(
                "the manifest lists {} layers but the config {} diff_ids",
                layers.len(),
                summary.diff_ids.len()
            )
        });
        let layers = layers
            .into_iter()
            .enumerate()
            .map(|(i, blob)| Layer {
                diff_id: summary.diff_ids.get(i).cloned(),
                blob,
            })
            .collect();
        Ok(Image {
            manifest,
            config,
            summary,
            layers,
            warning,
        })
    }

    fn node(
        &mut self,
        desc: Option<Descriptor>,
        bytes: &[u8],
        depth: usize,
    ) -> Result<Node, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::Layout {
                what: self.src.name(),
                reason: format!("indexes nested deeper than {MAX_DEPTH}"),
            });
        }
        let what = desc.as_ref().map_or_else(
            || format!("index.json of {}", self.src.name()),
            |d| d.digest.to_string(),
        );
        let hint = desc.as_ref().map(|d| d.media_type.as_str());
        match Manifest::parse(bytes, hint, &what)? {
            Manifest::Image { config, layers, .. } => {
                let img = self.image(desc, config, layers)?;
                Ok(Node::Image(Box::new(img)))
            }
            Manifest::Index {
                media_type,
                manifests,
            } => {
                let desc = desc.map(|d| Descriptor { media_type, ..d });
                self.index(desc, manifests, depth)
            }
        }
    }

    fn index(
        &mut self,
        desc: Option<Descriptor>,
        manifests: Vec<Descriptor>,
        depth: usize,
    ) -> Result<Node, Error> {
        let wanted = self.sel.wanted();
        let mut children = Vec::new();
        let mut taken_one = false;
        for m in manifests {
            self.count()?;
            if m.is_attestation() {
                children.push(Node::Skipped {
                    descriptor: m,
                    reason: "attestation manifest".into(),
                });
                continue;
            }
            if self.walked.contains(&m.digest) {
                children.push(Node::Skipped {
                    descriptor: m,
                    reason: "walked above (the same digest)".into(),
                });
                continue;
            }
            let is_index = media::is_index(&m.media_type);
            if taken_one && (is_index || m.platform.is_none()) {
                // one platform asked for and found: nothing further can be chosen
                children.push(Node::Skipped {
                    descriptor: m,
                    reason: "another entry matched first".into(),
                });
                continue;
            }
            if let (Some(w), Some(p), false) = (&wanted, &m.platform, is_index) {
                self.available.push(p.to_string());
                if !p.satisfies(w) || taken_one {
                    let reason = if taken_one {
                        "another entry matched first"
                    } else {
                        "other platform"
                    };
                    children.push(Node::Skipped {
                        descriptor: m,
                        reason: reason.into(),
                    });
                    continue;
                }
            } else if let Some(p) = &m.platform {
                self.available.push(p.to_string());
            }
            self.walked.insert(m.digest.clone());
            let bytes = self.src.manifest(&m, self.max_manifest)?;
            let child = self.node(Some(m), &bytes, depth + 1)?;
            // a manifest without an index platform: decide by its config
            if let (Some(w), Node::Image(img)) = (&wanted, &child)
                && !img.summary.platform.satisfies(w)
            {
                self.available.push(img.summary.platform.to_string());
                if let Some(d) = img.manifest.clone() {
                    children.push(Node::Skipped {
                        descriptor: d,
                        reason: "other platform".into(),
                    });
                }
                continue;
            }
            if has_image(&child) {
                taken_one |= wanted.is_some();
            }
            children.push(child);
        }
        Ok(Node::Index {
            descriptor: desc,
            children,
        })
    }
}

fn has_image(n: &Node) -> bool {
    match n {
        Node::Image(_) => true,
        Node::Index { children, .. } => children.iter().any(has_image),
        Node::Skipped { .. } => false,
    }
}

fn collect<'a>(n: &'a Node, out: &mut Vec<&'a Image>) {
    match n {
        Node::Image(i) => out.push(i),
        Node::Index { children, .. } => children.iter().for_each(|c| collect(c, out)),
        Node::Skipped { .. } => {}
    }
}

impl Chain {
    /// Every image in the tree, in order.
    pub fn images(&self) -> Vec<&Image> {
        let mut v = Vec::new();
        collect(&self.root, &mut v);
        v
    }
}

/// Walks a source from its root to every selected image, reading (and verifying) every
/// manifest and config on the way. Layer blobs are described, not read.
pub fn resolve(
    src: &dyn ImageSource,
    sel: &PlatformSelector,
    max_manifest: u64,
) -> Result<Chain, Error> {
    let mut w = Walker {
        src,
        sel,
        max_manifest,
        available: Vec::new(),
        limits: src.limits(),
        nodes: 0,
        walked: HashSet::new(),
    };
    let root = match src.root()? {
        Root::Addressed { descriptor, bytes } => w.node(Some(descriptor), &bytes, 0)?,
        Root::LayoutIndex { manifests } => w.index(None, manifests, 0)?,
        Root::Loose(images) => {
            let mut children = Vec::new();
            let mut seen = HashSet::new();
            for LooseImage { config, layers, .. } in images {
                w.count()?;
                let key = (
                    config.digest.clone(),
                    layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>(),
                );
                if !seen.insert(key) {
                    // manifest.json may list one image many times (under other tags)
                    children.push(Node::Skipped {
                        descriptor: config,
                        reason: "the same config and layers as an image above".into(),
                    });
                    continue;
                }
                let img = w.image(None, config, layers)?;
                children.push(Node::Image(Box::new(img)));
            }
            Node::Index {
                descriptor: None,
                children,
            }
        }
    };
    // a single image whose config names another platform than one explicitly asked for
    if let (PlatformSelector::One(p), Node::Image(img)) = (sel, &root)
        && !img.summary.platform.satisfies(p)
    {
        return Err(Error::PlatformNotFound {
            what: src.name(),
            wanted: p.to_string(),
            available: vec![img.summary.platform.to_string()],
        });
    }
    if !has_image(&root) {
        let mut available = w.available.clone();
        available.sort();
        available.dedup();
        return Err(Error::PlatformNotFound {
            what: src.name(),
            wanted: sel
                .wanted()
                .map_or_else(|| "any".to_string(), |p| p.to_string()),
            available,
        });
    }
    let mut chain = Chain {
        reference: src.name(),
        transport: src.transport(),
        tags: src.tags(),
        root,
        shown_by: ShownBy::default(),
    };
    chain.shown_by = shown_by(&chain);
    Ok(chain)
}

fn shown_by(c: &Chain) -> ShownBy {
    let node_digest = |n: &Node| match n {
        Node::Index {
            descriptor: Some(d),
            ..
        } => Some(d.digest.clone()),
        Node::Image(i) => i.manifest.as_ref().map(|d| d.digest.clone()),
        _ => None,
    };
    let top = match &c.root {
        // an OCI layout's index.json: its single entry is what a push would publish
        Node::Index {
            descriptor: None,
            children,
        } if children.len() == 1 => node_digest(&children[0]),
        n => node_digest(n),
    };
    let images = c.images();
    let per_platform: Vec<Digest> = images
        .iter()
        .filter_map(|i| i.manifest.as_ref().map(|d| d.digest.clone()))
        .collect();
    let ids: Vec<Digest> = images.iter().map(|i| i.config.digest.clone()).collect();
    let mut s = ShownBy {
        image_id: ids,
        ..ShownBy::default()
    };
    match c.transport {
        Transport::Registry => {
            s.docker_pull = top.clone();
            s.docker_image_ls_digests = top.clone();
            s.registry_web_page = per_platform;
            s.notes.push("`docker pull` and `docker image ls --digests` show the digest the tag resolved to; for a multi-platform image that is the index, not any platform's manifest.".into());
            s.notes.push(
                "A registry web page (Docker Hub) lists one manifest digest per platform.".into(),
            );
        }
        _ => {
            s.notes.push("After `docker load`, `docker image ls --digests` shows <none>: a loaded image has no repo digest until it is pushed or pulled.".into());
            if top.is_some() {
                s.docker_pull = top.clone();
                s.notes.push("Pushed as is (for example with `crane push` or `oci-import`), the top digest here is what `docker pull` would print.".into());
            }
            s.registry_web_page = per_platform;
        }
    }
    s.notes.push("The IMAGE ID column shows the config digest with Docker's classic image store; with the containerd image store it shows the top manifest or index digest.".into());
    s.notes.push("Neither is a layer digest: layer blobs are compressed (blob digest) and their diff_ids are digests of the uncompressed tars.".into());
    s
}

fn fmt_desc(d: &Descriptor) -> String {
    format!("{}  ({} bytes, {})", d.digest, d.size, d.media_type)
}

fn render_node(n: &Node, indent: &str, out: &mut String) {
    match n {
        Node::Index {
            descriptor,
            children,
        } => {
            match descriptor {
                Some(d) => {
                    let _ = writeln!(out, "{indent}index {}", fmt_desc(d));
                }
                None => {
                    let _ = writeln!(
                        out,
                        "{indent}(unaddressed top: index.json or manifest.json, no digest)"
                    );
                }
            }
            for c in children {
                render_node(c, &format!("{indent}  "), out);
            }
        }
        Node::Skipped { descriptor, reason } => {
            let plat = descriptor
                .platform
                .as_ref()
                .map(Platform::to_string)
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{indent}skipped {} {plat} ({reason})",
                descriptor.digest
            );
        }
        Node::Image(img) => {
            let plat = &img.summary.platform;
            match &img.manifest {
                Some(m) => {
                    let _ = writeln!(out, "{indent}manifest [{plat}] {}", fmt_desc(m));
                }
                None => {
                    let _ = writeln!(
                        out,
                        "{indent}image [{plat}] (legacy docker-archive: no manifest)"
                    );
                }
            }
            let _ = writeln!(out, "{indent}  config (image ID) {}", fmt_desc(&img.config));
            for (i, l) in img.layers.iter().enumerate() {
                let _ = writeln!(out, "{indent}  layer {i}: blob {}", fmt_desc(&l.blob));
                match &l.diff_id {
                    Some(d) => {
                        let _ = writeln!(out, "{indent}           diff_id {d}");
                    }
                    None => {
                        let _ = writeln!(out, "{indent}           diff_id (missing in config)");
                    }
                }
            }
            if let Some(w) = &img.warning {
                let _ = writeln!(out, "{indent}  warning: {w}");
            }
        }
    }
}

/// The human-readable tree.
pub fn render_text(c: &Chain) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({})",
        c.reference,
        serde_json::to_value(c.transport)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    );
    if !c.tags.is_empty() {
        let _ = writeln!(out, "tags: {}", c.tags.join(", "));
    }
    render_node(&c.root, "  ", &mut out);
    let s = &c.shown_by;
    let _ = writeln!(out, "which digest is which:");
    let opt = |d: &Option<Digest>| {
        d.as_ref()
            .map_or_else(|| "-".to_string(), Digest::to_string)
    };
    let list = |v: &[Digest]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.iter()
                .map(Digest::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let _ = writeln!(
        out,
        "  docker pull prints:              {}",
        opt(&s.docker_pull)
    );
    let _ = writeln!(
        out,
        "  docker image ls --digests:       {}",
        opt(&s.docker_image_ls_digests)
    );
    let _ = writeln!(
        out,
        "  registry web page (per platform): {}",
        list(&s.registry_web_page)
    );
    let _ = writeln!(
        out,
        "  image ID (config digest):        {}",
        list(&s.image_id)
    );
    for n in &s.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    out
}
