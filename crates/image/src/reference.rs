//! Image references: the transports and Docker's normalisation of bare names.
use std::fmt;
use std::path::PathBuf;

use crate::digest::Digest;
use crate::error::Error;

/// Which image inside an OCI layout: a tag (`org.opencontainers.image.ref.name`) or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A tag.
    Tag(String),
    /// A manifest or index digest.
    Digest(Digest),
}

/// A registry reference, normalised as Docker does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// `host[:port]` as written (`docker.io` for Docker Hub).
    pub registry: String,
    /// The repository path (`library/ubuntu`).
    pub repository: String,
    /// The tag (`latest` when neither tag nor digest was given).
    pub tag: Option<String>,
    /// The digest; when present it wins over the tag, which is only informative.
    pub digest: Option<Digest>,
}

impl RegistryRef {
    /// The host to talk to: Docker Hub's API lives at `registry-1.docker.io`.
    pub fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// The tag or digest to ask the registry for (digest preferred: tags are mutable).
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Where an image lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// `docker-archive:PATH`: a `docker save` tarball.
    DockerArchive(PathBuf),
    /// `oci:DIR[:TAG|@DIGEST]`: an OCI image layout directory.
    OciDir {
        /// The layout directory.
        path: PathBuf,
        /// Which image, when not all of `index.json`.
        selector: Option<Selector>,
    },
    /// `oci-archive:PATH[:TAG|@DIGEST]`: a tar of an OCI image layout.
    OciArchive {
        /// The tar file.
        path: PathBuf,
        /// Which image, when not all of `index.json`.
        selector: Option<Selector>,
    },
    /// `docker://HOST/REPO[:TAG][@DIGEST]` or a bare Docker reference.
    Registry(RegistryRef),
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sel = |s: &Option<Selector>| match s {
            None => String::new(),
            Some(Selector::Tag(t)) => format!(":{t}"),
            Some(Selector::Digest(d)) => format!("@{d}"),
        };
        match self {
            ImageRef::DockerArchive(p) => write!(f, "docker-archive:{}", p.display()),
            ImageRef::OciDir { path, selector } => {
                write!(f, "oci:{}{}", path.display(), sel(selector))
            }
            ImageRef::OciArchive { path, selector } => {
                write!(f, "oci-archive:{}{}", path.display(), sel(selector))
            }
            ImageRef::Registry(r) => write!(f, "docker://{r}"),
        }
    }
}

impl std::str::FromStr for ImageRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

fn bad(input: &str, reason: impl Into<String>) -> Error {
    Error::Reference {
        input: input.to_string(),
        reason: reason.into(),
    }
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

fn valid_path_component(c: &str) -> bool {
    // [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    if !b
        .iter()
        .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || b"._-".contains(x))
    {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'.' || b[i] == b'_' {
            let mut j = i;
            while j < b.len() && (b[j] == b'.' || b[j] == b'_') {
                j += 1;
            }
            let sep = &c[i..j];
            if sep != "." && sep != "_" && sep != "__" {
                return false;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    true
}

fn split_selector(input: &str, rest: &str) -> Result<(PathBuf, Option<Selector>), Error> {
    if let Some((path, d)) = rest.rsplit_once('@') {
        if path.is_empty() {
            return Err(bad(input, "missing path"));
        }
        let d = Digest::parse(d).map_err(|e| bad(input, e.to_string()))?;
        return Ok((PathBuf::from(path), Some(Selector::Digest(d))));
    }
    if let Some((path, tag)) = rest.rsplit_once(':')
        && !tag.contains('/')
        && !path.is_empty()
    {
        if !valid_tag(tag) {
            return Err(bad(input, format!("invalid tag {tag:?}")));
        }
        return Ok((PathBuf::from(path), Some(Selector::Tag(tag.to_string()))));
    }
    if rest.is_empty() {
        return Err(bad(input, "missing path"));
    }
    Ok((PathBuf::from(rest), None))
}

impl ImageRef {
    /// Parses any supported form; bare names are normalised like `docker pull` does
    /// (`ubuntu` → `docker.io/library/ubuntu:latest`).
    pub fn parse(input: &str) -> Result<ImageRef, Error> {
        if let Some(rest) = input.strip_prefix("docker-archive:") {
            if rest.is_empty() {
                return Err(bad(input, "missing path"));
            }
            return Ok(ImageRef::DockerArchive(PathBuf::from(rest)));
        }
        if let Some(rest) = input.strip_prefix("oci-archive:") {
            let (path, selector) = split_selector(input, rest)?;
            return Ok(ImageRef::OciArchive { path, selector });
        }
        if let Some(rest) = input.strip_prefix("oci:") {
            let (path, selector) = split_selector(input, rest)?;
            return Ok(ImageRef::OciDir { path, selector });
        }
        let rest = input.strip_prefix("docker://").unwrap_or(input);
        Ok(ImageRef::Registry(parse_docker(input, rest)?))
    }
}

/// Parses a Docker reference (`[HOST[:PORT]/]REPO[:TAG][@DIGEST]`) with Docker's defaults.
pub fn parse_docker(input: &str, s: &str) -> Result<RegistryRef, Error> {
    if s.is_empty() {
        return Err(bad(input, "empty reference"));
    }
    let (name_tag, digest) = match s.split_once('@') {
        Some((n, d)) => (
            n,
            Some(Digest::parse(d).map_err(|e| bad(input, e.to_string()))?),
        ),
        None => (s, None),
    };
    let (name, tag) = match name_tag.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => {
            if !valid_tag(t) {
                return Err(bad(input, format!("invalid tag {t:?}")));
            }
            (n, Some(t.to_string()))
        }
        _ => (name_tag, None),
    };
    let (registry, repo) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
        "docker.io".to_string()
    } else {
        registry
    };
    if registry.is_empty()
        || !registry
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    {
        return Err(bad(input, format!("invalid registry host {registry:?}")));
    }
    let repository = if registry == "docker.io" && !repo.contains('/') {
        format!("library/{repo}")
    } else {
        repo
    };
    if repository.len() > 255 || !repository.split('/').all(valid_path_component) {
        return Err(bad(
            input,
            format!(
                "invalid repository name {repository:?} (lowercase letters, digits and separators only)"
            ),
        ));
    }
    let tag = if tag.is_none() && digest.is_none() {
        Some("latest".to_string())
    } else {
        tag
    };
    Ok(RegistryRef {
        registry,
        repository,
        tag,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(s: &str) -> String {
        match ImageRef::parse(s).unwrap() {
            ImageRef::Registry(r) => r.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn docker_normalisation() {
        assert_eq!(reg("ubuntu"), "docker.io/library/ubuntu:latest");
        assert_eq!(reg("ubuntu:24.04"), "docker.io/library/ubuntu:24.04");
        assert_eq!(reg("user/img"), "docker.io/user/img:latest");
        assert_eq!(reg("docker://127.0.0.1:5000/a/b:t"), "127.0.0.1:5000/a/b:t");
        assert_eq!(reg("localhost/x"), "localhost/x:latest");
        assert_eq!(
            reg("index.docker.io/library/debian"),
            "docker.io/library/debian:latest"
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            reg(&format!("ubuntu@{d}")),
            format!("docker.io/library/ubuntu@{d}")
        );
        assert_eq!(
            reg(&format!("ubuntu:x@{d}")),
            format!("docker.io/library/ubuntu:x@{d}")
        );
        assert!(ImageRef::parse("Ubuntu").is_err());
        assert!(ImageRef::parse("ubuntu:bad tag").is_err());
        assert!(ImageRef::parse("ubuntu@sha512:00").is_err());
        assert!(ImageRef::parse("").is_err());
        assert!(ImageRef::parse("a//b").is_err());
    }

    #[test]
    fn transports() {
        assert_eq!(
            ImageRef::parse("oci:/x/y:v1").unwrap(),
            ImageRef::OciDir {
                path: "/x/y".into(),
                selector: Some(Selector::Tag("v1".into()))
            }
        );
        assert_eq!(
            ImageRef::parse("oci:./dir").unwrap(),
            ImageRef::OciDir {
                path: "./dir".into(),
                selector: None
            }
        );
        let d = format!("sha256:{}", "b".repeat(64));
        assert!(matches!(
            ImageRef::parse(&format!("oci-archive:a.tar@{d}")).unwrap(),
            ImageRef::OciArchive {
                selector: Some(Selector::Digest(_)),
                ..
            }
        ));
        assert_eq!(
            ImageRef::parse("docker-archive:/t/x.tar").unwrap(),
            ImageRef::DockerArchive("/t/x.tar".into())
        );
        assert!(ImageRef::parse("docker-archive:").is_err());
    }
}
