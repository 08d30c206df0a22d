//! The layer writer on hand-made trees: one test per rule of spec §5, through `check`.

use layerproof_archive::tree::{Inode, Kind, NodeId, Origin, ROOT};
use layerproof_archive::{Header, Timestamp, Tree};
use layerproof_layer::compare::{Item, RawEntry, Reader};
use layerproof_layer::{LayerOptions, NameTable, Profile, hash_layer, write_layer};
use sha2::{Digest, Sha256};

struct T {
    tree: Tree,
}

impl T {
    fn new() -> Self {
        T {
            tree: Tree::new(1 << 20),
        }
    }

    fn add(&mut self, parent: NodeId, name: &str, mut ino: Inode) -> NodeId {
        if ino.mtime == Timestamp::EPOCH {
            ino.mtime = Timestamp::from_secs(1_700_000_000);
        }
        let id = self.tree.add_inode(ino);
        self.tree
            .link(parent, name.as_bytes(), id, Origin::Entry { index: 0 })
    }

    fn dir(&mut self, parent: NodeId, name: &str) -> NodeId {
        let mut i = Inode::new(Kind::Dir);
        i.perm = 0o755;
        self.add(parent, name, i)
    }

    fn file(&mut self, parent: NodeId, name: &str, body: &[u8]) -> NodeId {
        let mut i = Inode::new(Kind::File);
        i.perm = 0o644;
        i.content = Some(self.tree.content_mut().put_bytes(body).unwrap());
        self.add(parent, name, i)
    }

    fn inode(&mut self, node: NodeId) -> &mut Inode {
        let id = self.tree.node(node).inode;
        self.tree.inode_mut(id)
    }
}

/// Write the tree under `profile` and return the parsed entries plus the raw bytes.
#[track_caller]
fn check(t: &T, profile: &str, names: Option<&NameTable>) -> (Vec<(RawEntry, Header)>, Vec<u8>) {
    let p = Profile::by_name(profile).expect("profile");
    let mut opts = LayerOptions::new(p);
    opts.names = names;
    let (bytes, summary) = write_layer(&t.tree, &opts, Vec::new()).expect("write");
    assert_eq!(summary.size, bytes.len() as u64);
    assert_eq!(
        summary.diff_id.to_string(),
        format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
    );
    assert_eq!(hash_layer(&t.tree, &opts).unwrap(), summary);
    assert_eq!(bytes.len() % 512, 0);
    assert!(bytes[bytes.len() - 1024..].iter().all(|&c| c == 0));
    let mut out = Vec::new();
    for item in Reader::new(&bytes[..]) {
        match item.unwrap() {
            Item::Entry(e) => {
                let p = e.parse().unwrap();
                out.push((e, p));
            }
            Item::End(t) => {
                assert_eq!(t.len, 1024, "exactly two zero blocks");
                assert!(t.all_zero);
            }
        }
    }
    assert_eq!(out.len() as u64, summary.entries);
    (out, bytes)
}

fn names(entries: &[(RawEntry, Header)]) -> Vec<String> {
    entries
        .iter()
        .map(|(_, p)| String::from_utf8_lossy(&p.name).into_owned())
        .collect()
}

fn find<'a>(entries: &'a [(RawEntry, Header)], name: &str) -> &'a (RawEntry, Header) {
    entries
        .iter()
        .find(|(_, p)| p.name == name.as_bytes())
        .unwrap_or_else(|| panic!("{name} not in {:?}", names(entries)))
}

#[test]
fn empty_layer_has_the_known_diff_id() {
    let t = T::new();
    let p = Profile::by_name("docker-24-27").unwrap();
    let s = hash_layer(&t.tree, &LayerOptions::new(p)).unwrap();
    assert_eq!(
        s.diff_id.to_string(),
        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
    );
    assert_eq!(s.size, 1024);
    assert_eq!(s.entries, 0);
}

#[test]
fn walk_order_names_and_no_root() {
    let mut t = T::new();
    let opt = t.dir(ROOT, "opt");
    t.file(opt, "a-b", b"x");
    let a = t.dir(opt, "a");
    t.file(a, "z", b"");
    t.file(ROOT, "B", b"");
    let (e, _) = check(&t, "docker-24-27", None);
    assert_eq!(names(&e), ["B", "opt/", "opt/a/", "opt/a/z", "opt/a-b"]);
    let (raw, p) = find(&e, "opt/");
    assert_eq!(p.typeflag, b'5');
    assert_eq!(raw.header.field("mode"), b"0000755\0");
    assert_eq!(raw.header.field("mtime"), b"14524770400\0");
    assert_eq!(raw.header.field("devmajor"), b"0000000\0");
    assert_eq!(raw.header.field("uname"), [0u8; 32]);
    let (raw, p) = find(&e, "opt/a-b");
    assert_eq!(p.size, 1);
    assert_eq!(raw.data_len, 1);
    assert_eq!(raw.data_sha256, <[u8; 32]>::from(Sha256::digest(b"x")));
}

#[test]
fn hardlink_group_first_path_in_walk_order_is_the_file() {
    // spec §5.3: `usr/bin/hl` sorts before `usr/bin/su`, so it carries the data.
    let mut t = T::new();
    let usr = t.dir(ROOT, "usr");
    let bin = t.dir(usr, "bin");
    let su = t.file(bin, "su", b"binary");
    t.inode(su).perm = 0o4755;
    let ino = t.tree.node(su).inode;
    t.tree.link(bin, b"hl", ino, Origin::Entry { index: 1 });
    let (e, _) = check(&t, "docker-20.10", None);
    let (raw, p) = find(&e, "usr/bin/hl");
    assert_eq!(p.typeflag, b'0');
    assert_eq!(raw.data_len, 6);
    assert_eq!(raw.header.field("mode"), b"0104755\0");
    let (raw, p) = find(&e, "usr/bin/su");
    assert_eq!(p.typeflag, b'1');
    assert_eq!(p.linkname, b"usr/bin/hl");
    assert_eq!(p.size, 0);
    assert_eq!(raw.data_len, 0);
    // The link keeps the shared inode's mode, with type bits on 20.10.
    assert_eq!(raw.header.field("mode"), b"0104755\0");
}

#[test]
fn symlinks_are_0777_and_keep_the_target_verbatim() {
    let mut t = T::new();
    let mut l = Inode::new(Kind::Symlink);
    l.perm = 0o755;
    l.link_target = b"../usr/lib".to_vec();
    t.add(ROOT, "lib", l);
    let (e, _) = check(&t, "docker-24-27", None);
    let (raw, p) = find(&e, "lib");
    assert_eq!(p.typeflag, b'2');
    assert_eq!(p.linkname, b"../usr/lib");
    assert_eq!(raw.header.field("mode"), b"0000777\0");
    let (e, _) = check(&t, "docker-20.10", None);
    assert_eq!(find(&e, "lib").0.header.field("mode"), b"0120777\0");
}

#[test]
fn mtime_is_floored_to_seconds() {
    let mut t = T::new();
    let f = t.file(ROOT, "f", b"");
    t.inode(f).mtime = Timestamp {
        sec: 1_700_000_000,
        nsec: 999_999_999,
    };
    let (e, _) = check(&t, "docker-24-27", None);
    let (raw, p) = find(&e, "f");
    assert!(raw.extensions.is_empty(), "no PAX mtime record");
    assert_eq!(p.mtime, Timestamp::from_secs(1_700_000_000));
}

#[test]
fn mtime_upper_bound_clamps_before_truncating() {
    let mut t = T::new();
    let f = t.file(ROOT, "f", b"");
    t.inode(f).mtime = Timestamp {
        sec: 2_000_000_000,
        nsec: 1,
    };
    let p = Profile::by_name("buildkit-containerd").unwrap();
    let mut opts = LayerOptions::new(p);
    opts.mtime_upper_bound = Some(1_000);
    let (bytes, _) = write_layer(&t.tree, &opts, Vec::new()).unwrap();
    let Some(Ok(Item::Entry(e))) = Reader::new(&bytes[..]).next() else {
        panic!()
    };
    assert_eq!(e.parse().unwrap().mtime, Timestamp::from_secs(1_000));
}

#[test]
fn type_bits_per_kind_on_docker_20_10() {
    let mut t = T::new();
    t.dir(ROOT, "d");
    t.file(ROOT, "f", b"");
    let mut c = Inode::new(Kind::CharDevice);
    c.perm = 0o666;
    c.devmajor = 1;
    c.devminor = 3;
    t.add(ROOT, "null", c);
    let mut b = Inode::new(Kind::BlockDevice);
    b.perm = 0o660;
    b.devmajor = 8;
    t.add(ROOT, "sda", b);
    let mut p = Inode::new(Kind::Fifo);
    p.perm = 0o644;
    t.add(ROOT, "pipe", p);
    let (e, _) = check(&t, "docker-20.10", None);
    let mode = |n: &str| find(&e, n).0.header.field("mode").to_vec();
    assert_eq!(mode("d/"), b"0040755\0");
    assert_eq!(mode("f"), b"0100644\0");
    assert_eq!(mode("null"), b"0020666\0");
    assert_eq!(mode("sda"), b"0060660\0");
    assert_eq!(mode("pipe"), b"0010644\0");
    let (raw, p) = find(&e, "null");
    assert_eq!((p.devmajor, p.devminor), (1, 3));
    assert_eq!(raw.header.field("devminor"), b"0000003\0");
    assert_eq!(find(&e, "sda").1.devmajor, 8);
    let (e, _) = check(&t, "docker-24-27", None);
    assert_eq!(find(&e, "null").0.header.field("mode"), b"0000666\0");
}

#[test]
fn only_security_capability_survives_and_v3_becomes_v2_on_moby() {
    let mut t = T::new();
    let f = t.file(ROOT, "ping", b"");
    let mut v3 = vec![0u8; 24];
    v3[0] = 1;
    v3[3] = 3;
    v3[4] = 0x20;
    v3[20] = 0xe8; // rootid
    let ino = t.inode(f);
    ino.xattrs
        .insert(b"security.capability".to_vec(), v3.clone());
    ino.xattrs.insert(b"user.foo".to_vec(), b"bar".to_vec());
    ino.xattrs
        .insert(b"security.selinux".to_vec(), b"x".to_vec());
    let ino = t.tree.node(f).inode;
    t.tree.link(ROOT, b"ping2", ino, Origin::Entry { index: 1 });

    let (e, _) = check(&t, "docker-24-27", None);
    let (_, p) = find(&e, "ping");
    let mut v2 = v3[..20].to_vec();
    v2[3] = 2;
    assert_eq!(p.pax_records.len(), 1);
    assert_eq!(p.pax_records[&b"SCHILY.xattr.security.capability"[..]], v2);
    // The hardlink entry carries the record too (moby reads the xattr before the link check).
    let (_, p) = find(&e, "ping2");
    assert_eq!(p.typeflag, b'1');
    assert_eq!(p.pax_records[&b"SCHILY.xattr.security.capability"[..]], v2);

    let (e, _) = check(&t, "buildkit-containerd", None);
    let (_, p) = find(&e, "ping");
    assert_eq!(p.pax_records[&b"SCHILY.xattr.security.capability"[..]], v3);
}

#[test]
fn owner_names_from_a_table_only_when_the_profile_looks_up() {
    let mut t = T::new();
    let f = t.file(ROOT, "f", b"");
    t.inode(f).uid = 1000;
    t.inode(f).gid = 50;
    let g = t.file(ROOT, "g", b"");
    t.inode(g).uid = 4242;
    let table = NameTable::from_passwd_group(
        b"root:x:0:0::/:/bin/sh\nuser:x:1000:1000::/:/bin/sh\n",
        b"root:x:0:\nstaff:x:50:\n",
    );
    let (e, _) = check(&t, "docker-20.10-debian", Some(&table));
    let (raw, p) = find(&e, "f");
    assert_eq!(
        (p.uname.as_slice(), p.gname.as_slice()),
        (&b"user"[..], &b"staff"[..])
    );
    assert_eq!(&raw.header.field("uname")[..5], b"user\0");
    let (_, p) = find(&e, "g");
    assert_eq!(
        (p.uname.as_slice(), p.gname.as_slice()),
        (&b""[..], &b"root"[..])
    );
    let (e, _) = check(&t, "docker-24-27", Some(&table));
    assert!(find(&e, "f").1.uname.is_empty());
}

fn whiteout_tree() -> T {
    let mut t = T::new();
    let d = t.dir(ROOT, "dev");
    let mut c = Inode::new(Kind::CharDevice);
    c.perm = 0o644;
    c.uid = 7;
    c.gid = 8;
    c.mtime = Timestamp::from_secs(12345);
    t.add(d, "gone", c);
    t.file(d, "keep", b"");
    t
}

#[test]
fn char_device_0_0_on_overlay2_becomes_a_whiteout_file() {
    let t = whiteout_tree();
    let (e, _) = check(&t, "docker-20.10", None);
    assert_eq!(names(&e), ["dev/", "dev/.wh.gone", "dev/keep"]);
    let (raw, p) = find(&e, "dev/.wh.gone");
    assert_eq!(p.typeflag, b'0');
    assert_eq!(raw.header.field("mode"), b"0000600\0");
    assert_eq!((p.uid, p.gid, p.mtime.sec, p.size), (7, 8, 12345, 0));
}

#[test]
fn char_device_0_0_is_a_device_for_containerd_and_omitted_by_the_overlay_differ() {
    let t = whiteout_tree();
    let (e, _) = check(&t, "buildkit-containerd", None);
    assert_eq!(names(&e), ["dev/", "dev/gone", "dev/keep"]);
    assert_eq!(find(&e, "dev/gone").1.typeflag, b'3');
    let (e, _) = check(&t, "buildkit-overlayfs", None);
    assert_eq!(names(&e), ["dev/", "dev/keep"]);
}

#[test]
fn opaque_directory_gets_a_marker_on_overlay2() {
    let mut t = T::new();
    let d = t.dir(ROOT, "opq");
    t.inode(d).perm = 0o1755;
    t.inode(d).uid = 5;
    t.inode(d)
        .xattrs
        .insert(b"trusted.overlay.opaque".to_vec(), b"y".to_vec());
    t.file(d, "a", b"");
    let (e, _) = check(&t, "docker-20.10", None);
    assert_eq!(names(&e), ["opq/", "opq/.wh..wh..opq", "opq/a"]);
    let (raw, p) = find(&e, "opq/.wh..wh..opq");
    assert_eq!(p.typeflag, b'0');
    // hdr.Mode & 0777: type bits and sticky dropped; owner kept; mtime zero.
    assert_eq!(raw.header.field("mode"), b"0000755\0");
    assert_eq!((p.uid, p.mtime.sec), (5, 0));
    assert_eq!(find(&e, "opq/").0.header.field("mode"), b"0041755\0");
    let (e, _) = check(&t, "buildkit-containerd", None);
    assert_eq!(names(&e), ["opq/", "opq/a"]);
}

#[test]
fn unencodable_entry_is_omitted_by_moby_and_fatal_for_containerd() {
    let mut t = T::new();
    let mut b = Inode::new(Kind::BlockDevice);
    b.devmajor = 1 << 21;
    t.add(ROOT, "huge", b);
    t.file(ROOT, "ok", b"");
    let (e, _) = check(&t, "docker-24-27", None);
    assert_eq!(names(&e), ["ok"]);
    let p = Profile::by_name("docker-24-27").unwrap();
    let s = hash_layer(&t.tree, &LayerOptions::new(p)).unwrap();
    assert_eq!(s.omitted.len(), 1);
    assert_eq!(s.omitted[0].path, "huge");
    let p = Profile::by_name("buildkit-containerd").unwrap();
    let err = hash_layer(&t.tree, &LayerOptions::new(p)).unwrap_err();
    assert!(err.to_string().contains("huge"), "{err}");
}

#[test]
fn big_ids_and_non_ascii_names_use_pax() {
    let mut t = T::new();
    let opt = t.dir(ROOT, "opt");
    let f = t.file(opt, "ü.txt", b"hi");
    t.inode(f).uid = 3_000_000;
    t.inode(f).gid = 3_000_001;
    let (e, _) = check(&t, "docker-24-27", None);
    let (raw, p) = find(&e, "opt/ü.txt");
    assert_eq!(raw.extensions.len(), 1);
    assert_eq!(
        raw.extensions[0].body,
        "15 gid=3000001\n19 path=opt/ü.txt\n15 uid=3000000\n".as_bytes()
    );
    assert_eq!(&raw.header.field("name")[..9], b"opt/.txt\0");
    assert_eq!(raw.header.field("uid"), b"0000000\0");
    assert_eq!((p.uid, p.gid), (3_000_000, 3_000_001));
}

#[test]
fn bodies_stream_from_a_spilled_content_store() {
    let mut t = T { tree: Tree::new(0) };
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    t.file(ROOT, "big", &body);
    let (e, bytes) = check(&t, "docker-24-27", None);
    let (raw, _) = find(&e, "big");
    assert_eq!(raw.data_sha256, <[u8; 32]>::from(Sha256::digest(&body)));
    assert_eq!(bytes.len(), 512 + 200_192 + 1024);
}
