#![allow(clippy::unwrap_used, clippy::expect_used)]

use audit::tile::{
    HashPosition, Tile, encode_tile_index, hash_from_tile, new_tiles, read_tile_data,
    tiles_for_positions,
};
use audit::{MemoryLog, leaf_hash, tiles_for_size};

fn log(n: u64) -> MemoryLog {
    let mut log = MemoryLog::new();
    for i in 0..n {
        log.append_entry(format!("e{i}").as_bytes()).unwrap();
    }
    log
}

#[test]
fn tile_index_paths() {
    assert_eq!(encode_tile_index(0), "000");
    assert_eq!(encode_tile_index(5), "005");
    assert_eq!(encode_tile_index(999), "999");
    assert_eq!(encode_tile_index(1000), "x001/000");
    assert_eq!(encode_tile_index(1234067), "x001/x234/067");
    let t = Tile {
        level: 0,
        index: 1234067,
        width: 256,
    };
    assert_eq!(t.path(), "tile/0/x001/x234/067");
    let p = Tile {
        level: 1,
        index: 1234067,
        width: 3,
    };
    assert_eq!(p.path(), "tile/1/x001/x234/067.p/3");
    assert_eq!(p.entries_path(), "tile/entries/x001/x234/067.p/3");
    assert_eq!(Tile::parse_path(&t.path()).unwrap(), t);
    assert_eq!(Tile::parse_path(&p.path()).unwrap(), p);
    for bad in [
        "tile/0/1234",
        "tile/0/x000/001",
        "tile/0/001.p/0",
        "tile/0/001.p/256",
        "tile/0/001.p/07",
        "tile/00/001",
        "tile/0/x1/001",
        "tiles/0/001",
        "tile/0/",
    ] {
        assert!(Tile::parse_path(bad).is_err(), "{bad}");
    }
}

#[test]
fn tiles_of_a_tree() {
    assert!(tiles_for_size(0).is_empty());
    assert_eq!(
        tiles_for_size(1),
        vec![Tile {
            level: 0,
            index: 0,
            width: 1
        }]
    );
    assert_eq!(
        tiles_for_size(256),
        vec![
            Tile {
                level: 0,
                index: 0,
                width: 256
            },
            Tile {
                level: 1,
                index: 0,
                width: 1
            },
        ]
    );
    let t = tiles_for_size(70_000);
    // 273 full level-0 tiles + 1 partial (112); level 1: 273 hashes = 1 full + 17; level 2: 1.
    assert_eq!(t.iter().filter(|t| t.level == 0).count(), 274);
    assert!(t.contains(&Tile {
        level: 0,
        index: 273,
        width: 112
    }));
    assert!(t.contains(&Tile {
        level: 1,
        index: 0,
        width: 256
    }));
    assert!(t.contains(&Tile {
        level: 1,
        index: 1,
        width: 17
    }));
    assert!(t.contains(&Tile {
        level: 2,
        index: 0,
        width: 1
    }));
    assert_eq!(
        new_tiles(256, 257),
        vec![Tile {
            level: 0,
            index: 1,
            width: 1
        }]
    );
}

#[test]
fn hashes_from_tiles() {
    let size = 700;
    let log = log(size);
    for tile in tiles_for_size(size) {
        let data = read_tile_data(&tile, &log).unwrap();
        assert_eq!(data.len(), 32 * usize::from(tile.width));
        let base = tile.merkle_level();
        for extra in 0..8u8 {
            let level = base + extra;
            let first = (tile.index * 256) >> extra;
            let last = (tile.index * 256 + u64::from(tile.width)) >> extra;
            for index in first..last {
                let pos = HashPosition::new(level, index);
                assert_eq!(Tile::containing(pos, size), tile);
                assert_eq!(
                    hash_from_tile(&tile, &data, pos).unwrap(),
                    log.get(pos).unwrap()
                );
            }
        }
    }
    let tile = Tile {
        level: 0,
        index: 0,
        width: 256,
    };
    let data = read_tile_data(&tile, &log).unwrap();
    assert!(hash_from_tile(&tile, &data[..64], HashPosition::leaf(0)).is_err());
    assert!(hash_from_tile(&tile, &data, HashPosition::leaf(256)).is_err());
    assert_eq!(
        leaf_hash(b"e0"),
        hash_from_tile(&tile, &data, HashPosition::leaf(0)).unwrap()
    );
}

#[test]
fn proof_positions_map_to_tiles() {
    let size = 1_000_000u64;
    let pos = audit::tile::inclusion_proof_positions(123_456, size);
    assert!(pos.len() <= 64);
    let tiles = tiles_for_positions(&pos, size);
    assert!(!tiles.is_empty() && tiles.len() <= pos.len());
    for p in &pos {
        assert!(tiles.contains(&Tile::containing(*p, size)));
    }
}
