//! Zachary's karate club: 34 members, 78 friendships, and the club's split into two factions.
//!
//! W. W. Zachary, *An information flow model for conflict and fission in small groups*,
//! J. Anthropol. Res. 33 (1977) 452. The graph and the faction of each member are a published
//! fact (the same edge list and `club` labels as networkx's `karate_club_graph`).

/// The 78 undirected edges (0-based member numbers).
pub const EDGES: [(usize, usize); 78] = [
    (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (0, 6), (0, 7), (0, 8), (0, 10), (0, 11), (0, 12),
    (0, 13), (0, 17), (0, 19), (0, 21), (0, 31), (1, 2), (1, 3), (1, 7), (1, 13), (1, 17), (1, 19),
    (1, 21), (1, 30), (2, 3), (2, 7), (2, 8), (2, 9), (2, 13), (2, 27), (2, 28), (2, 32), (3, 7),
    (3, 12), (3, 13), (4, 6), (4, 10), (5, 6), (5, 10), (5, 16), (6, 16), (8, 30), (8, 32), (8, 33),
    (9, 33), (13, 33), (14, 32), (14, 33), (15, 32), (15, 33), (18, 32), (18, 33), (19, 33),
    (20, 32), (20, 33), (22, 32), (22, 33), (23, 25), (23, 27), (23, 29), (23, 32), (23, 33),
    (24, 25), (24, 27), (24, 31), (25, 31), (26, 29), (26, 33), (27, 33), (28, 31), (28, 33),
    (29, 32), (29, 33), (30, 32), (30, 33), (31, 32), (31, 33), (32, 33),
];

/// Number of members.
pub const NUM_NODES: usize = 34;

/// The members who followed the instructor, Mr. Hi (member 0); the others followed the
/// officer (member 33).
pub const MR_HI: [usize; 17] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 16, 17, 19, 21];

/// Faction of each member: 0 = Mr. Hi, 1 = Officer.
pub fn factions() -> [usize; NUM_NODES] {
    let mut f = [1; NUM_NODES];
    for &m in &MR_HI {
        f[m] = 0;
    }
    f
}

/// Both directions of every edge, as (sources, targets).
pub fn directed_edges() -> (Vec<usize>, Vec<usize>) {
    EDGES
        .iter()
        .flat_map(|&(a, b)| [(a, b), (b, a)])
        .unzip()
}
