/**
 * RFC 6962 test vectors, copied from the Go reference implementation github.com/transparency-dev/merkle
 * (formerly part of google/trillian, derived from the certificate-transparency C++ tests):
 *  - LEAF_INPUTS, NODE_HASHES, ROOTS: testonly/constants.go (LeafInputs, NodeHashes, RootHashes)
 *  - INCLUSION_PROOFS, CONSISTENCY_PROOFS: proof/verify_test.go (inclusionProofs, consistencyProofs;
 *    leaf numbers there are 1-based, converted here to 0-based leaf indexes)
 *  - INCLUSION_NODES, CONSISTENCY_NODES: proof/proof_test.go (TestInclusion, TestConsistency), the
 *    stored nodes (level, index) each proof reads.
 * All hashes are hex SHA-256.
 */

export const LEAF_INPUTS: readonly string[] = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
];

/** NODE_HASHES[level][index]: every complete subtree of the 8-leaf tree. */
export const NODE_HASHES: readonly (readonly string[])[] = [
  [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
    '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
  ],
  [
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
  ],
  [
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ],
  ['5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'],
];

/** ROOTS[n]: root of the tree of the first n leaf inputs. */
export const ROOTS: readonly string[] = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

export interface InclusionVector {
  readonly index: number;
  readonly size: number;
  readonly proof: readonly string[];
}

export const INCLUSION_PROOFS: readonly InclusionVector[] = [
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];

export interface ConsistencyVector {
  readonly size1: number;
  readonly size2: number;
  readonly proof: readonly string[];
}

export const CONSISTENCY_PROOFS: readonly ConsistencyVector[] = [
  { size1: 1, size2: 1, proof: [] },
  {
    size1: 1,
    size2: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    size1: 6,
    size2: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    size1: 2,
    size2: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  {
    size1: 6,
    size2: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

type Id = readonly [level: number, index: number];

/** Stored nodes read by inclusion proofs, in path order, grouped per proof hash (a group > 1 is folded). */
export const INCLUSION_NODES: readonly { index: number; size: number; nodes: readonly (readonly Id[])[] }[] =
  [
    { size: 1, index: 0, nodes: [] },
    { size: 2, index: 0, nodes: [[[0, 1]]] },
    { size: 2, index: 1, nodes: [[[0, 0]]] },
    { size: 3, index: 1, nodes: [[[0, 0]], [[0, 2]]] },
    // Size 7, index 0: b h then l = hash(i, j), listed by Go as "b h j i" with a rehash of (j, i).
    {
      size: 7,
      index: 0,
      nodes: [
        [[0, 1]],
        [[1, 1]],
        [
          [1, 2],
          [0, 6],
        ],
      ],
    },
    { size: 7, index: 4, nodes: [[[0, 5]], [[0, 6]], [[2, 0]]] },
    { size: 7, index: 6, nodes: [[[1, 2]], [[2, 0]]] },
    { size: 6, index: 4, nodes: [[[0, 5]], [[2, 0]]] },
    {
      size: 95,
      index: 81,
      nodes: [
        [[0, 80]],
        [[1, 41]],
        [[2, 21]],
        [
          [2, 22],
          [1, 46],
          [0, 94],
        ],
        [[4, 4]],
        [[6, 0]],
      ],
    },
  ];

export const CONSISTENCY_NODES: readonly {
  size1: number;
  size2: number;
  nodes: readonly (readonly Id[])[];
}[] = [
  { size1: 1, size2: 2, nodes: [[[0, 1]]] },
  { size1: 1, size2: 4, nodes: [[[0, 1]], [[1, 1]]] },
  { size1: 2, size2: 8, nodes: [[[1, 1]], [[2, 1]]] },
  { size1: 5, size2: 7, nodes: [[[0, 4]], [[0, 5]], [[0, 6]], [[2, 0]]] },
  { size1: 6, size2: 7, nodes: [[[1, 2]], [[0, 6]], [[2, 0]]] },
  { size1: 7, size2: 8, nodes: [[[0, 6]], [[0, 7]], [[1, 2]], [[2, 0]]] },
  { size1: 3, size2: 6, nodes: [[[0, 2]], [[0, 3]], [[1, 0]], [[1, 2]]] },
  {
    size1: 4,
    size2: 7,
    nodes: [
      [
        [1, 2],
        [0, 6],
      ],
    ],
  },
  { size1: 8, size2: 8, nodes: [] },
];
