//! Stored hashes and tiles (C2SP tlog-tiles), and the tree hash and proofs
//! computed from stored hashes with O(log n) reads.
//!
//! A log of `n` leaves stores every complete subtree hash: at Merkle level
//! `L` (leaves are level 0) there are `n >> L` hashes, index `K` covering the
//! leaves `[K << L, (K + 1) << L)`. Appending leaf `n` stores its leaf hash
//! and then one hash per level that the new leaf completes, so all hashes
//! have a linear *stored hash index* in the order they were written
//! ([`HashPosition::stored_index`]). A tile groups 256 hashes of Merkle level
//! `8 * tile level`.

use std::fmt;

use crate::error::AuditError;
use crate::hash::{EMPTY_ROOT, Hash, node_hash};
use crate::merkle::{consistency_ranges, inclusion_ranges};

/// Tile height: a tile spans 8 Merkle levels.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile (`2^TILE_HEIGHT`).
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// The position of a stored hash: Merkle `level` (0 = leaves) and `index`
/// within that level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashPosition {
    pub level: u8,
    pub index: u64,
}

impl HashPosition {
    /// The position of a stored hash.
    pub const fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// The position of leaf `index`.
    pub const fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// The first leaf under this hash.
    pub const fn first_leaf(&self) -> u64 {
        self.index << self.level
    }

    /// The linear index at which this hash is written when leaves are
    /// appended one at a time (the layout of Go's `tlog` package).
    pub fn stored_index(&self) -> u64 {
        // The hash is written while appending the last leaf under it, right
        // after that leaf's hash and the `level - 1` hashes below it.
        let last_leaf = ((self.index + 1) << self.level) - 1;
        hashes_before_leaf(last_leaf) + u64::from(self.level)
    }

    /// The inverse of [`HashPosition::stored_index`].
    pub fn from_stored_index(stored: u64) -> Self {
        // Find the leaf whose append wrote `stored`: the largest leaf `m`
        // with `hashes_before_leaf(m) <= stored`.
        let (mut lo, mut hi) = (stored / 2, stored / 2 + 64);
        hi = hi.min(stored);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if hashes_before_leaf(mid) <= stored {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let level = (stored - hashes_before_leaf(lo)) as u8;
        Self {
            level,
            index: lo >> level,
        }
    }
}

/// Number of hashes stored before leaf `n` is appended.
fn hashes_before_leaf(n: u64) -> u64 {
    2 * n - u64::from(n.count_ones())
}

/// Number of hashes a log of `size` leaves stores.
pub fn stored_hash_count(size: u64) -> u64 {
    hashes_before_leaf(size)
}

/// Reads stored hashes; the hub implements it over its database.
pub trait HashReader {
    /// Returns the hashes at `positions`, in the same order. A store that
    /// lacks one of them returns [`AuditError::HashMissing`].
    fn read_hashes(&self, positions: &[HashPosition]) -> Result<Vec<Hash>, AuditError>;

    /// Like [`HashReader::read_hashes`], with `None` where the store lacks
    /// a hash, so that a verifier can tell which difference comes first.
    /// The default asks again one position at a time when one is missing.
    fn read_hashes_or_missing(
        &self,
        positions: &[HashPosition],
    ) -> Result<Vec<Option<Hash>>, AuditError> {
        match self.read_hashes(positions) {
            Ok(hashes) => Ok(hashes.into_iter().map(Some).collect()),
            Err(AuditError::HashMissing { .. }) => positions
                .iter()
                .map(|p| match self.read_hashes(std::slice::from_ref(p)) {
                    Ok(mut one) => Ok(one.pop()),
                    Err(AuditError::HashMissing { .. }) => Ok(None),
                    Err(e) => Err(e),
                })
                .collect(),
            Err(e) => Err(e),
        }
    }
}

/// `hashes` (as read for `positions`, `None` where missing) when none is
/// missing: the way to write [`HashReader::read_hashes`] for a store that
/// implements [`HashReader::read_hashes_or_missing`].
pub fn all_present(
    positions: &[HashPosition],
    hashes: Vec<Option<Hash>>,
) -> Result<Vec<Hash>, AuditError> {
    positions
        .iter()
        .zip(hashes)
        .map(|(p, h)| {
            h.ok_or(AuditError::HashMissing {
                level: p.level,
                index: p.index,
            })
        })
        .collect()
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, positions: &[HashPosition]) -> Result<Vec<Hash>, AuditError> {
        (**self).read_hashes(positions)
    }

    fn read_hashes_or_missing(
        &self,
        positions: &[HashPosition],
    ) -> Result<Vec<Option<Hash>>, AuditError> {
        (**self).read_hashes_or_missing(positions)
    }
}

fn read_checked<R: HashReader + ?Sized>(
    reader: &R,
    positions: &[HashPosition],
) -> Result<Vec<Hash>, AuditError> {
    let hashes = reader.read_hashes(positions)?;
    if hashes.len() != positions.len() {
        let missing = positions[hashes.len().min(positions.len().saturating_sub(1))];
        return Err(AuditError::HashMissing {
            level: missing.level,
            index: missing.index,
        });
    }
    Ok(hashes)
}

/// The stored hashes that make up the tree hash of leaves `[lo, hi)`, where
/// the range is one that arises in RFC 9162's recursion (its start is aligned
/// to a power of two at least its length): the maximal aligned complete
/// subtrees, left to right.
pub fn range_positions(lo: u64, hi: u64) -> Vec<HashPosition> {
    let mut out = Vec::new();
    let mut at = lo;
    while at < hi {
        let fit = 63 - (hi - at).leading_zeros();
        let align = if at == 0 { 63 } else { at.trailing_zeros() };
        let level = fit.min(align);
        out.push(HashPosition::new(level as u8, at >> level));
        at += 1u64 << level;
    }
    out
}

/// Folds the complete-subtree hashes of a range from the right.
fn fold_range(hashes: &[Hash]) -> Hash {
    let mut it = hashes.iter().rev();
    let Some(last) = it.next() else {
        return EMPTY_ROOT;
    };
    it.fold(*last, |acc, h| node_hash(h, &acc))
}

/// Reads the hashes for several ranges in one batch and folds each range.
fn range_hashes<R: HashReader + ?Sized>(
    ranges: &[(u64, u64)],
    reader: &R,
) -> Result<Vec<Hash>, AuditError> {
    let mut positions = Vec::new();
    let mut bounds = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let start = positions.len();
        positions.extend(range_positions(lo, hi));
        bounds.push(start..positions.len());
    }
    let hashes = read_checked(reader, &positions)?;
    Ok(bounds.into_iter().map(|b| fold_range(&hashes[b])).collect())
}

/// The stored hashes needed for the root of a tree of `size` leaves.
pub fn tree_hash_positions(size: u64) -> Vec<HashPosition> {
    range_positions(0, size)
}

/// The stored hashes needed for the inclusion proof of `index` in `size`.
pub fn inclusion_proof_positions(index: u64, size: u64) -> Vec<HashPosition> {
    inclusion_ranges(index, size)
        .into_iter()
        .flat_map(|(lo, hi)| range_positions(lo, hi))
        .collect()
}

/// The stored hashes needed for the consistency proof from `old` to `new`.
pub fn consistency_proof_positions(old: u64, new: u64) -> Result<Vec<HashPosition>, AuditError> {
    Ok(consistency_ranges(old, new)?
        .into_iter()
        .flat_map(|(lo, hi)| range_positions(lo, hi))
        .collect())
}

/// The root of the tree of `size` leaves, from stored hashes (one batch read
/// of at most 64 hashes).
pub fn tree_hash<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<Hash, AuditError> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    let hashes = read_checked(reader, &tree_hash_positions(size))?;
    Ok(fold_range(&hashes))
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn prove_inclusion<R: HashReader + ?Sized>(
    index: u64,
    size: u64,
    reader: &R,
) -> Result<Vec<Hash>, AuditError> {
    if index >= size {
        return Err(AuditError::IndexOutOfRange { index, size });
    }
    range_hashes(&inclusion_ranges(index, size), reader)
}

/// The consistency proof from the tree of `old` leaves to that of `new`.
pub fn prove_consistency<R: HashReader + ?Sized>(
    old: u64,
    new: u64,
    reader: &R,
) -> Result<Vec<Hash>, AuditError> {
    range_hashes(&consistency_ranges(old, new)?, reader)
}

/// The positions whose stored hashes [`append`] reads to append leaf `size`
/// (the left siblings of the subtrees the new leaf completes).
pub fn append_read_positions(size: u64) -> Vec<HashPosition> {
    (0..size.trailing_ones())
        .map(|l| HashPosition::new(l as u8, (size >> l) - 1))
        .collect()
}

/// Appends a leaf to a log of `size` leaves: returns the hashes to store, in
/// stored-index order starting at [`stored_hash_count`]`(size)`: the leaf
/// hash, then one hash per subtree the leaf completes. Reads at most
/// `log2(size)` stored hashes in one batch.
pub fn append<R: HashReader + ?Sized>(
    size: u64,
    leaf: Hash,
    reader: &R,
) -> Result<Vec<Hash>, AuditError> {
    let lefts = read_checked(reader, &append_read_positions(size))?;
    let mut out = Vec::with_capacity(lefts.len() + 1);
    let mut h = leaf;
    out.push(h);
    for left in &lefts {
        h = node_hash(left, &h);
        out.push(h);
    }
    Ok(out)
}

/// Appends several leaves at once (a group commit): returns the hashes to
/// store, in stored-index order starting at [`stored_hash_count`]`(size)`,
/// and the positions they belong to. Hashes written earlier in the same
/// batch are taken from the batch, not from the reader.
pub fn append_batch<R: HashReader + ?Sized>(
    size: u64,
    leaves: &[Hash],
    reader: &R,
) -> Result<Vec<(HashPosition, Hash)>, AuditError> {
    // The frontier: the hashes of the maximal complete subtrees of the tree,
    // by level. Leaves appended later merge only into these.
    let frontier_pos = range_positions(0, size);
    let frontier_hashes = read_checked(reader, &frontier_pos)?;
    let mut frontier: Vec<(HashPosition, Hash)> =
        frontier_pos.into_iter().zip(frontier_hashes).collect();
    let mut out = Vec::with_capacity(leaves.len() * 2);
    for (n, leaf) in (size..).zip(leaves) {
        let mut pos = HashPosition::leaf(n);
        let mut h = *leaf;
        out.push((pos, h));
        for _ in 0..n.trailing_ones() {
            let Some((_, left)) = frontier.pop() else {
                return Err(AuditError::HashMissing {
                    level: pos.level,
                    index: pos.index.saturating_sub(1),
                });
            };
            h = node_hash(&left, &h);
            pos = HashPosition::new(pos.level + 1, pos.index >> 1);
            out.push((pos, h));
        }
        frontier.push((pos, h));
    }
    Ok(out)
}

/// A tile: `level` (tile level, Merkle level `8 * level`), `index`, and
/// `width` (number of hashes, 1..=256; 256 for a full tile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tile {
    pub level: u8,
    pub index: u64,
    pub width: u16,
}

impl Tile {
    /// Whether the tile holds all 256 hashes.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The Merkle level of the hashes in this tile.
    pub fn merkle_level(&self) -> u8 {
        self.level * TILE_HEIGHT
    }

    /// The positions of the hashes in this tile, left to right.
    pub fn positions(&self) -> Vec<HashPosition> {
        let level = self.merkle_level();
        let first = self.index * TILE_WIDTH;
        (first..first + u64::from(self.width))
            .map(|i| HashPosition::new(level, i))
            .collect()
    }

    /// The path of the tile: `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let mut s = format!("tile/{}/{}", self.level, encode_tile_index(self.index));
        if !self.is_full() {
            s.push_str(&format!(".p/{}", self.width));
        }
        s
    }

    /// The path of the entry bundle with the same index and width:
    /// `tile/entries/<N>[.p/<W>]`.
    pub fn entries_path(&self) -> String {
        let mut s = format!("tile/entries/{}", encode_tile_index(self.index));
        if !self.is_full() {
            s.push_str(&format!(".p/{}", self.width));
        }
        s
    }

    /// Parses a hash tile path (`tile/<L>/<N>[.p/<W>]`).
    pub fn parse_path(path: &str) -> Result<Self, AuditError> {
        let bad = || AuditError::InvalidTile(path.to_owned());
        let rest = path.strip_prefix("tile/").ok_or_else(bad)?;
        let (level, rest) = rest.split_once('/').ok_or_else(bad)?;
        if level.is_empty()
            || level.len() > 2
            || (level.len() > 1 && level.starts_with('0'))
            || !level.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let level: u8 = level.parse().map_err(|_| bad())?;
        if level > 7 {
            return Err(bad());
        }
        let (index_part, width) = match rest.split_once(".p/") {
            Some((idx, w)) => {
                if w.is_empty() || w.starts_with('0') || !w.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                let w: u16 = w.parse().map_err(|_| bad())?;
                if w == 0 || u64::from(w) >= TILE_WIDTH {
                    return Err(bad());
                }
                (idx, w)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = decode_tile_index(index_part).ok_or_else(bad)?;
        Ok(Tile {
            level,
            index,
            width,
        })
    }

    /// The tile holding the stored hash at `pos` in a tree of `size` leaves,
    /// with the hash's offset within the tile when `pos` is at a tile level.
    /// For a hash between tile levels, the tile below it holds the hashes it
    /// is computed from: see [`hash_from_tile`].
    pub fn containing(pos: HashPosition, size: u64) -> Self {
        let level = pos.level / TILE_HEIGHT;
        let merkle = level * TILE_HEIGHT;
        let below = u32::from(pos.level - merkle);
        let base = pos.index << below; // first hash at the tile's level
        let index = base / TILE_WIDTH;
        let count = size >> merkle;
        let width = (count - index * TILE_WIDTH).min(TILE_WIDTH);
        Tile {
            level,
            index,
            width: width as u16,
        }
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// Encodes a tile index as 3-digit path elements, all but the last with an
/// `x` prefix: 1234067 -> `x001/x234/067`.
pub fn encode_tile_index(mut n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        parts.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    parts.reverse();
    parts.join("/")
}

fn decode_tile_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    let (last, prefix) = parts.split_last()?;
    let mut n: u64 = 0;
    for (i, p) in prefix.iter().enumerate() {
        let digits = p.strip_prefix('x')?;
        if i == 0 && digits == "000" {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(three_digits(digits)?)?;
    }
    n.checked_mul(1000)?.checked_add(three_digits(last)?)
}

fn three_digits(s: &str) -> Option<u64> {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// All tiles of a tree of `size` leaves: for each tile level, the full tiles
/// and at most one partial tile at the right edge.
pub fn tiles_for_size(size: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    let mut level = 0u8;
    loop {
        let shift = u32::from(level) * u32::from(TILE_HEIGHT);
        if shift >= 64 {
            break;
        }
        let count = size >> shift;
        if count == 0 {
            break;
        }
        for index in 0..count / TILE_WIDTH {
            out.push(Tile {
                level,
                index,
                width: TILE_WIDTH as u16,
            });
        }
        let rem = count % TILE_WIDTH;
        if rem > 0 {
            out.push(Tile {
                level,
                index: count / TILE_WIDTH,
                width: rem as u16,
            });
        }
        level += 1;
    }
    out
}

/// The tiles that a tree of `new` leaves has and a tree of `old` leaves did
/// not (new full tiles and changed partial tiles): what to publish after an
/// append.
pub fn new_tiles(old: u64, new: u64) -> Vec<Tile> {
    let before: std::collections::HashSet<Tile> = tiles_for_size(old).into_iter().collect();
    tiles_for_size(new)
        .into_iter()
        .filter(|t| !before.contains(t))
        .collect()
}

/// The tiles that hold the stored hashes at `positions` in a tree of `size`
/// leaves (deduplicated, sorted).
pub fn tiles_for_positions(positions: &[HashPosition], size: u64) -> Vec<Tile> {
    let mut tiles: Vec<Tile> = positions
        .iter()
        .map(|p| Tile::containing(*p, size))
        .collect();
    tiles.sort();
    tiles.dedup();
    tiles
}

/// The bytes of a tile: its hashes concatenated (32 bytes each).
pub fn read_tile_data<R: HashReader + ?Sized>(
    tile: &Tile,
    reader: &R,
) -> Result<Vec<u8>, AuditError> {
    let hashes = read_checked(reader, &tile.positions())?;
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// Computes the stored hash at `pos` from the data of the tile that
/// [`Tile::containing`] names for it.
pub fn hash_from_tile(tile: &Tile, data: &[u8], pos: HashPosition) -> Result<Hash, AuditError> {
    let bad = || {
        AuditError::InvalidTile(format!(
            "{tile} does not hold level {} index {}",
            pos.level, pos.index
        ))
    };
    if data.len() != usize::from(tile.width) * Hash::LEN || pos.level / TILE_HEIGHT != tile.level {
        return Err(bad());
    }
    let below = u32::from(pos.level - tile.merkle_level());
    let first = (pos.index << below)
        .checked_sub(tile.index * TILE_WIDTH)
        .ok_or_else(bad)?;
    let count = 1u64 << below;
    if first + count > u64::from(tile.width) {
        return Err(bad());
    }
    let mut level: Vec<Hash> = data
        [first as usize * Hash::LEN..(first + count) as usize * Hash::LEN]
        .chunks_exact(Hash::LEN)
        .filter_map(Hash::from_slice)
        .collect();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
    }
    level.pop().ok_or_else(bad)
}
