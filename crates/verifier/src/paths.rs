//! Tar names as path keys, shared by the scanner, the free parameters and the explanation.

/// Normalise a tar name to a path key: no leading `./` or `/`, no trailing `/`.
pub fn normalise(name: &[u8]) -> Vec<u8> {
    let mut p = name;
    loop {
        if let Some(rest) = p.strip_prefix(b"./") {
            p = rest;
        } else if let Some(rest) = p.strip_prefix(b"/") {
            p = rest;
        } else {
            break;
        }
    }
    while let Some(rest) = p.strip_suffix(b"/") {
        p = rest;
    }
    if p == b"." { Vec::new() } else { p.to_vec() }
}

/// The path for messages: `/`-rooted, lossy UTF-8.
pub fn display_path(path: &[u8]) -> String {
    format!("/{}", String::from_utf8_lossy(path))
}
