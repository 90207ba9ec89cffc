/*
 * FastCDC 2020 ("rolling two bytes each time") cut-point search.
 *
 * Paper: Wen Xia et al., "The Design of Fast Content-Defined Chunking for
 * Data Deduplication Based Storage Systems", IEEE TPDS 31(9), 2020,
 * Algorithm 2.  Cut points are identical to fastcdc-rs `v2020` and pyfastcdc
 * for the same (min, avg, max, level); layerscope/chunk/reference.py is the
 * readable definition and the tests hold this file to it.
 *
 * The gear hash.  For each byte b the fingerprint advances as
 *     fp = (fp << 1) + GEAR[b]
 * and a chunk ends where (fp & mask) == 0.  The 2020 variant consumes two
 * bytes per step with a second table GEAR_LS[b] = GEAR[b] << 1:
 *     fp = (fp << 2) + GEAR_LS[b0]   test against MASK_S_LS = MASK_S << 1
 *     fp = fp + GEAR[b1]             test against MASK_S
 * The first line is the one-byte fingerprint after b0 shifted left by one,
 * so the test with the shifted mask is the same test, one shift per two
 * bytes is saved, and every byte position is still a candidate.
 *
 * Why this loop is shaped as it is (measured on x86-64, see
 * docs/chunking.md): the work per byte is one byte load, one table load, a
 * shift-add and a test.  The loop is unrolled by 16 bytes over raw pointers
 * so the only per-step branches are the (rarely taken) cut tests; chunk
 * bookkeeping happens once per chunk, and the whole buffer is scanned in one
 * call so Python is entered once per buffer, not once per chunk.
 */
#include "fastcdc.h"

#if defined(__GNUC__) || defined(__clang__)
#  define LS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define LS_INLINE static inline __attribute__((always_inline))
#else
#  define LS_UNLIKELY(x) (x)
#  define LS_INLINE static __inline
#endif

/*
 * GEAR[i]: the high 8 bytes (big-endian) of MD5(64 bytes of value i), the
 * table of the paper's C implementation (destor) and of fastcdc-rs.
 * reference.py derives it from hashlib; the tests compare cut points, so a
 * typo here cannot go unnoticed.
 */
static const uint64_t GEAR[256] = {
    UINT64_C(0x3b5d3c7d207e37dc), UINT64_C(0x784d68ba91123086), UINT64_C(0xcd52880f882e7298),
    UINT64_C(0xeacf8e4e19fdcca7), UINT64_C(0xc31f385dfbd1632b), UINT64_C(0x1d5f27001e25abe6),
    UINT64_C(0x83130bde3c9ad991), UINT64_C(0xc4b225676e9b7649), UINT64_C(0xaa329b29e08eb499),
    UINT64_C(0xb67fcbd21e577d58), UINT64_C(0x0027baaada2acf6b), UINT64_C(0xe3ef2d5ac73c2226),
    UINT64_C(0x0890f24d6ed312b7), UINT64_C(0xa809e036851d7c7e), UINT64_C(0xf0a6fe5e0013d81b),
    UINT64_C(0x1d026304452cec14), UINT64_C(0x03864632648e248f), UINT64_C(0xcdaacf3dcd92b9b4),
    UINT64_C(0xf5e012e63c187856), UINT64_C(0x8862f9d3821c00b6), UINT64_C(0xa82f7338750f6f8a),
    UINT64_C(0x1e583dc6c1cb0b6f), UINT64_C(0x7a3145b69743a7f1), UINT64_C(0xabb20fee404807eb),
    UINT64_C(0xb14b3cfe07b83a5d), UINT64_C(0xb9dc27898adb9a0f), UINT64_C(0x3703f5e91baa62be),
    UINT64_C(0xcf0bb866815f7d98), UINT64_C(0x3d9867c41ea9dcd3), UINT64_C(0x1be1fa65442bf22c),
    UINT64_C(0x14300da4c55631d9), UINT64_C(0xe698e9cbc6545c99), UINT64_C(0x4763107ec64e92a5),
    UINT64_C(0xc65821fc65696a24), UINT64_C(0x76196c064822f0b7), UINT64_C(0x485be841f3525e01),
    UINT64_C(0xf652bc9c85974ff5), UINT64_C(0xcad8352face9e3e9), UINT64_C(0x2a6ed1dceb35e98e),
    UINT64_C(0xc6f483badc11680f), UINT64_C(0x3cfd8c17e9cf12f1), UINT64_C(0x89b83c5e2ea56471),
    UINT64_C(0xae665cfd24e392a9), UINT64_C(0xec33c4e504cb8915), UINT64_C(0x3fb9b15fc9fe7451),
    UINT64_C(0xd7fd1fd1945f2195), UINT64_C(0x31ade0853443efd8), UINT64_C(0x255efc9863e1e2d2),
    UINT64_C(0x10eab6008d5642cf), UINT64_C(0x46f04863257ac804), UINT64_C(0xa52dc42a789a27d3),
    UINT64_C(0xdaaadf9ce77af565), UINT64_C(0x6b479cd53d87febb), UINT64_C(0x6309e2d3f93db72f),
    UINT64_C(0xc5738ffbaa1ff9d6), UINT64_C(0x6bd57f3f25af7968), UINT64_C(0x67605486d90d0a4a),
    UINT64_C(0xe14d0b9663bfbdae), UINT64_C(0xb7bbd8d816eb0414), UINT64_C(0xdef8a4f16b35a116),
    UINT64_C(0xe7932d85aaaffed6), UINT64_C(0x08161cbae90cfd48), UINT64_C(0x855507beb294f08b),
    UINT64_C(0x91234ea6ffd399b2), UINT64_C(0xad70cf4b2435f302), UINT64_C(0xd289a97565bc2d27),
    UINT64_C(0x8e558437ffca99de), UINT64_C(0x96d2704b7115c040), UINT64_C(0x0889bbcdfc660e41),
    UINT64_C(0x5e0d4e67dc92128d), UINT64_C(0x72a9f8917063ed97), UINT64_C(0x438b69d409e016e3),
    UINT64_C(0xdf4fed8a5d8a4397), UINT64_C(0x00f41dcf41d403f7), UINT64_C(0x4814eb038e52603f),
    UINT64_C(0x9dafbacc58e2d651), UINT64_C(0xfe2f458e4be170af), UINT64_C(0x4457ec414df6a940),
    UINT64_C(0x06e62f1451123314), UINT64_C(0xbd1014d173ba92cc), UINT64_C(0xdef318e25ed57760),
    UINT64_C(0x9fea0de9dfca8525), UINT64_C(0x459de1e76c20624b), UINT64_C(0xaeec189617e2d666),
    UINT64_C(0x126a2c06ab5a83cb), UINT64_C(0xb1321532360f6132), UINT64_C(0x65421503dbb40123),
    UINT64_C(0x2d67c287ea089ab3), UINT64_C(0x6c93bff5a56bd6b6), UINT64_C(0x4ffb2036cab6d98d),
    UINT64_C(0xce7b785b1be7ad4f), UINT64_C(0xedb42ef6189fd163), UINT64_C(0xdc905288703988f6),
    UINT64_C(0x365f9c1d2c691884), UINT64_C(0xc640583680d99bfe), UINT64_C(0x3cd4624c07593ec6),
    UINT64_C(0x7f1ea8d85d7c5805), UINT64_C(0x014842d480b57149), UINT64_C(0x0b649bcb5a828688),
    UINT64_C(0xbcd5708ed79b18f0), UINT64_C(0xe987c862fbd2f2f0), UINT64_C(0x982731671f0cd82c),
    UINT64_C(0xbaf13e8b16d8c063), UINT64_C(0x8ea3109cbd951bba), UINT64_C(0xd141045bfb385cad),
    UINT64_C(0x2acbc1a0af1f7d30), UINT64_C(0xe6444d89df03bfdf), UINT64_C(0xa18cc771b8188ff9),
    UINT64_C(0x9834429db01c39bb), UINT64_C(0x214add07fe086a1f), UINT64_C(0x8f07c19b1f6b3ff9),
    UINT64_C(0x56a297b1bf4ffe55), UINT64_C(0x94d558e493c54fc7), UINT64_C(0x40bfc24c764552cb),
    UINT64_C(0x931a706f8a8520cb), UINT64_C(0x32229d322935bd52), UINT64_C(0x2560d0f5dc4fefaf),
    UINT64_C(0x9dbcc48355969bb6), UINT64_C(0x0fd81c3985c0b56a), UINT64_C(0xe03817e1560f2bda),
    UINT64_C(0xc1bb4f81d892b2d5), UINT64_C(0xb0c4864f4e28d2d7), UINT64_C(0x3ecc49f9d9d6c263),
    UINT64_C(0x51307e99b52ba65e), UINT64_C(0x8af2b688da84a752), UINT64_C(0xf5d72523b91b20b6),
    UINT64_C(0x6d95ff1ff4634806), UINT64_C(0x562f21555458339a), UINT64_C(0xc0ce47f889336346),
    UINT64_C(0x487823e5089b40d8), UINT64_C(0xe4727c7ebc6d9592), UINT64_C(0x5a8f7277e94970ba),
    UINT64_C(0xfca2f406b1c8bb50), UINT64_C(0x5b1f8a95f1791070), UINT64_C(0xd304af9fc9028605),
    UINT64_C(0x5440ab7fc930e748), UINT64_C(0x312d25fbca2ab5a1), UINT64_C(0x10f4a4b234a4d575),
    UINT64_C(0x90301d55047e7473), UINT64_C(0x3b6372886c61591e), UINT64_C(0x293402b77c444e06),
    UINT64_C(0x451f34a4d3e97dd7), UINT64_C(0x3158d814d81bc57b), UINT64_C(0x034942425b9bda69),
    UINT64_C(0xe2032ff9e532d9bb), UINT64_C(0x62ae066b8b2179e5), UINT64_C(0x9545e10c2f8d71d8),
    UINT64_C(0x7ff7483eb2d23fc0), UINT64_C(0x00945fcebdc98d86), UINT64_C(0x8764bbbe99b26ca2),
    UINT64_C(0x1b1ec62284c0bfc3), UINT64_C(0x58e0fcc4f0aa362b), UINT64_C(0x5f4abefa878d458d),
    UINT64_C(0xfd74ac2f9607c519), UINT64_C(0xa4e3fb37df8cbfa9), UINT64_C(0xbf697e43cac574e5),
    UINT64_C(0x86f14a3f68f4cd53), UINT64_C(0x24a23d076f1ce522), UINT64_C(0xe725cd8048868cc8),
    UINT64_C(0xbf3c729eb2464362), UINT64_C(0xd8f6cd57b3cc1ed8), UINT64_C(0x6329e52425541577),
    UINT64_C(0x62aa688ad5ae1ac0), UINT64_C(0x0a242566269bf845), UINT64_C(0x168b1a4753aca74b),
    UINT64_C(0xf789afefff2e7e3c), UINT64_C(0x6c3362093b6fccdb), UINT64_C(0x4ce8f50bd28c09b2),
    UINT64_C(0x006a2db95ae8aa93), UINT64_C(0x975b0d623c3d1a8c), UINT64_C(0x18605d3935338c5b),
    UINT64_C(0x5bb6f6136cad3c71), UINT64_C(0x0f53a20701f8d8a6), UINT64_C(0xab8c5ad2e7e93c67),
    UINT64_C(0x40b5ac5127acaa29), UINT64_C(0x8c7bf63c2075895f), UINT64_C(0x78bd9f7e014a805c),
    UINT64_C(0xb2c9e9f4f9c8c032), UINT64_C(0xefd6049827eb91f3), UINT64_C(0x2be459f482c16fbd),
    UINT64_C(0xd92ce0c5745aaa8c), UINT64_C(0x0aaa8fb298d965b9), UINT64_C(0x2b37f92c6c803b15),
    UINT64_C(0x8c54a5e94e0f0e78), UINT64_C(0x95f9b6e90c0a3032), UINT64_C(0xe7939faa436c7874),
    UINT64_C(0xd16bfe8f6a8a40c9), UINT64_C(0x44982b86263fd2fa), UINT64_C(0xe285fb39f984e583),
    UINT64_C(0x779a8df72d7619d3), UINT64_C(0xf2d79a8de8d5dd1e), UINT64_C(0xd1037354d66684e2),
    UINT64_C(0x004c82a4e668a8e5), UINT64_C(0x31d40a7668b044e6), UINT64_C(0xd70578538bd02c11),
    UINT64_C(0xdb45431078c5f482), UINT64_C(0x977121bb7f6a51ad), UINT64_C(0x73d5ccbd34eff8dd),
    UINT64_C(0xe437a07d356e17cd), UINT64_C(0x47b2782043c95627), UINT64_C(0x9fb251413e41d49a),
    UINT64_C(0xccd70b60652513d3), UINT64_C(0x1c95b31e8a1b49b2), UINT64_C(0xcae73dfd1bcb4c1b),
    UINT64_C(0x34d98331b1f5b70f), UINT64_C(0x784e39f22338d92f), UINT64_C(0x18613d4a064df420),
    UINT64_C(0xf1d8dae25f0bcebe), UINT64_C(0x33f77c15ae855efc), UINT64_C(0x3c88b3b912eb109c),
    UINT64_C(0x956a2ec96bafeea5), UINT64_C(0x1aa005b5e0ad0e87), UINT64_C(0x5500d70527c4bb8e),
    UINT64_C(0xe36c57196421cc44), UINT64_C(0x13c4d286cc36ee39), UINT64_C(0x5654a23d818b2a81),
    UINT64_C(0x77b1dc13d161abdc), UINT64_C(0x734f44de5f8d5eb5), UINT64_C(0x60717e174a6c89a2),
    UINT64_C(0xd47d9649266a211e), UINT64_C(0x5b13a4322bb69e90), UINT64_C(0xf7669609f8b5fc3c),
    UINT64_C(0x21e6ac55bedcdac9), UINT64_C(0x9b56b62b61166dea), UINT64_C(0xf48f66b939797e9c),
    UINT64_C(0x35f332f9c0e6ae9a), UINT64_C(0xcc733f6a9a878db0), UINT64_C(0x3da161e41cc108c2),
    UINT64_C(0xb7d74ae535914d51), UINT64_C(0x4d493b0b11d36469), UINT64_C(0xce264d1dfba9741a),
    UINT64_C(0xa9d1f2dc7436dc06), UINT64_C(0x70738016604c2a27), UINT64_C(0x231d36e96e93f3d5),
    UINT64_C(0x7666881197838d19), UINT64_C(0x4a2a83090aaad40c), UINT64_C(0xf1e761591668b35d),
    UINT64_C(0x7363236497f730a7), UINT64_C(0x301080e37379dd4d), UINT64_C(0x502dea2971827042),
    UINT64_C(0xc2c5eb858f32625f), UINT64_C(0x786afb9edfafbdff), UINT64_C(0xdaee0d868490b2a4),
    UINT64_C(0x617366b3268609f6), UINT64_C(0xae0e35a0fe46173e), UINT64_C(0xd1a07de93e824f11),
    UINT64_C(0x079b8b115ea4cca8), UINT64_C(0x93a99274558faebb), UINT64_C(0xfb1e6e22e08a03b3),
    UINT64_C(0xea635fdba3698dd0), UINT64_C(0xcf53659328503a5c), UINT64_C(0xcde3b31e6fd5d780),
    UINT64_C(0x8e3e4221d3614413), UINT64_C(0xef14d0d86bf1a22c), UINT64_C(0xe1d830d3f16c5ddb),
    UINT64_C(0xaabd2b2a451504e1),
};

/* GEAR_LS[i] = GEAR[i] << 1 (paper section 3.7). */
static const uint64_t GEAR_LS[256] = {
    UINT64_C(0x76ba78fa40fc6fb8), UINT64_C(0xf09ad1752224610c), UINT64_C(0x9aa5101f105ce530),
    UINT64_C(0xd59f1c9c33fb994e), UINT64_C(0x863e70bbf7a2c656), UINT64_C(0x3abe4e003c4b57cc),
    UINT64_C(0x062617bc7935b322), UINT64_C(0x89644acedd36ec92), UINT64_C(0x54653653c11d6932),
    UINT64_C(0x6cff97a43caefab0), UINT64_C(0x004f7555b4559ed6), UINT64_C(0xc7de5ab58e78444c),
    UINT64_C(0x1121e49adda6256e), UINT64_C(0x5013c06d0a3af8fc), UINT64_C(0xe14dfcbc0027b036),
    UINT64_C(0x3a04c6088a59d828), UINT64_C(0x070c8c64c91c491e), UINT64_C(0x9b559e7b9b257368),
    UINT64_C(0xebc025cc7830f0ac), UINT64_C(0x10c5f3a70438016c), UINT64_C(0x505ee670ea1edf14),
    UINT64_C(0x3cb07b8d839616de), UINT64_C(0xf4628b6d2e874fe2), UINT64_C(0x57641fdc80900fd6),
    UINT64_C(0x629679fc0f7074ba), UINT64_C(0x73b84f1315b7341e), UINT64_C(0x6e07ebd23754c57c),
    UINT64_C(0x9e1770cd02befb30), UINT64_C(0x7b30cf883d53b9a6), UINT64_C(0x37c3f4ca8857e458),
    UINT64_C(0x28601b498aac63b2), UINT64_C(0xcd31d3978ca8b932), UINT64_C(0x8ec620fd8c9d254a),
    UINT64_C(0x8cb043f8cad2d448), UINT64_C(0xec32d80c9045e16e), UINT64_C(0x90b7d083e6a4bc02),
    UINT64_C(0xeca579390b2e9fea), UINT64_C(0x95b06a5f59d3c7d2), UINT64_C(0x54dda3b9d66bd31c),
    UINT64_C(0x8de90775b822d01e), UINT64_C(0x79fb182fd39e25e2), UINT64_C(0x137078bc5d4ac8e2),
    UINT64_C(0x5cccb9fa49c72552), UINT64_C(0xd86789ca0997122a), UINT64_C(0x7f7362bf93fce8a2),
    UINT64_C(0xaffa3fa328be432a), UINT64_C(0x635bc10a6887dfb0), UINT64_C(0x4abdf930c7c3c5a4),
    UINT64_C(0x21d56c011aac859e), UINT64_C(0x8de090c64af59008), UINT64_C(0x4a5b8854f1344fa6),
    UINT64_C(0xb555bf39cef5eaca), UINT64_C(0xd68f39aa7b0ffd76), UINT64_C(0xc613c5a7f27b6e5e),
    UINT64_C(0x8ae71ff7543ff3ac), UINT64_C(0xd7aafe7e4b5ef2d0), UINT64_C(0xcec0a90db21a1494),
    UINT64_C(0xc29a172cc77f7b5c), UINT64_C(0x6f77b1b02dd60828), UINT64_C(0xbdf149e2d66b422c),
    UINT64_C(0xcf265b0b555ffdac), UINT64_C(0x102c3975d219fa90), UINT64_C(0x0aaa0f7d6529e116),
    UINT64_C(0x22469d4dffa73364), UINT64_C(0x5ae19e96486be604), UINT64_C(0xa51352eacb785a4e),
    UINT64_C(0x1cab086fff9533bc), UINT64_C(0x2da4e096e22b8080), UINT64_C(0x1113779bf8cc1c82),
    UINT64_C(0xbc1a9ccfb924251a), UINT64_C(0xe553f122e0c7db2e), UINT64_C(0x8716d3a813c02dc6),
    UINT64_C(0xbe9fdb14bb14872e), UINT64_C(0x01e83b9e83a807ee), UINT64_C(0x9029d6071ca4c07e),
    UINT64_C(0x3b5f7598b1c5aca2), UINT64_C(0xfc5e8b1c97c2e15e), UINT64_C(0x88afd8829bed5280),
    UINT64_C(0x0dcc5e28a2246628), UINT64_C(0x7a2029a2e7752598), UINT64_C(0xbde631c4bdaaeec0),
    UINT64_C(0x3fd41bd3bf950a4a), UINT64_C(0x8b3bc3ced840c496), UINT64_C(0x5dd8312c2fc5accc),
    UINT64_C(0x24d4580d56b50796), UINT64_C(0x62642a646c1ec264), UINT64_C(0xca842a07b7680246),
    UINT64_C(0x5acf850fd4113566), UINT64_C(0xd9277feb4ad7ad6c), UINT64_C(0x9ff6406d956db31a),
    UINT64_C(0x9cf6f0b637cf5a9e), UINT64_C(0xdb685dec313fa2c6), UINT64_C(0xb920a510e07311ec),
    UINT64_C(0x6cbf383a58d23108), UINT64_C(0x8c80b06d01b337fc), UINT64_C(0x79a8c4980eb27d8c),
    UINT64_C(0xfe3d51b0baf8b00a), UINT64_C(0x029085a9016ae292), UINT64_C(0x16c93796b5050d10),
    UINT64_C(0x79aae11daf3631e0), UINT64_C(0xd30f90c5f7a5e5e0), UINT64_C(0x304e62ce3e19b058),
    UINT64_C(0x75e27d162db180c6), UINT64_C(0x1d4621397b2a3774), UINT64_C(0xa28208b7f670b95a),
    UINT64_C(0x559783415e3efa60), UINT64_C(0xcc889b13be077fbe), UINT64_C(0x43198ee370311ff2),
    UINT64_C(0x3068853b60387376), UINT64_C(0x4295ba0ffc10d43e), UINT64_C(0x1e0f83363ed67ff2),
    UINT64_C(0xad452f637e9ffcaa), UINT64_C(0x29aab1c9278a9f8e), UINT64_C(0x817f8498ec8aa596),
    UINT64_C(0x2634e0df150a4196), UINT64_C(0x64453a64526b7aa4), UINT64_C(0x4ac1a1ebb89fdf5e),
    UINT64_C(0x3b798906ab2d376c), UINT64_C(0x1fb038730b816ad4), UINT64_C(0xc0702fc2ac1e57b4),
    UINT64_C(0x83769f03b12565aa), UINT64_C(0x61890c9e9c51a5ae), UINT64_C(0x7d9893f3b3ad84c6),
    UINT64_C(0xa260fd336a574cbc), UINT64_C(0x15e56d11b5094ea4), UINT64_C(0xebae4a477236416c),
    UINT64_C(0xdb2bfe3fe8c6900c), UINT64_C(0xac5e42aaa8b06734), UINT64_C(0x819c8ff11266c68c),
    UINT64_C(0x90f047ca113681b0), UINT64_C(0xc8e4f8fd78db2b24), UINT64_C(0xb51ee4efd292e174),
    UINT64_C(0xf945e80d639176a0), UINT64_C(0xb63f152be2f220e0), UINT64_C(0xa6095f3f92050c0a),
    UINT64_C(0xa88156ff9261ce90), UINT64_C(0x625a4bf794556b42), UINT64_C(0x21e949646949aaea),
    UINT64_C(0x20603aaa08fce8e6), UINT64_C(0x76c6e510d8c2b23c), UINT64_C(0x5268056ef8889c0c),
    UINT64_C(0x8a3e6949a7d2fbae), UINT64_C(0x62b1b029b0378af6), UINT64_C(0x06928484b737b4d2),
    UINT64_C(0xc4065ff3ca65b376), UINT64_C(0xc55c0cd71642f3ca), UINT64_C(0x2a8bc2185f1ae3b0),
    UINT64_C(0xffee907d65a47f80), UINT64_C(0x0128bf9d7b931b0c), UINT64_C(0x0ec9777d3364d944),
    UINT64_C(0x363d8c4509817f86), UINT64_C(0xb1c1f989e1546c56), UINT64_C(0xbe957df50f1a8b1a),
    UINT64_C(0xfae9585f2c0f8a32), UINT64_C(0x49c7f66fbf197f52), UINT64_C(0x7ed2fc87958ae9ca),
    UINT64_C(0x0de2947ed1e99aa6), UINT64_C(0x49447a0ede39ca44), UINT64_C(0xce4b9b00910d1990),
    UINT64_C(0x7e78e53d648c86c4), UINT64_C(0xb1ed9aaf67983db0), UINT64_C(0xc653ca484aa82aee),
    UINT64_C(0xc554d115ab5c3580), UINT64_C(0x14484acc4d37f08a), UINT64_C(0x2d16348ea7594e96),
    UINT64_C(0xef135fdffe5cfc78), UINT64_C(0xd866c41276df99b6), UINT64_C(0x99d1ea17a5181364),
    UINT64_C(0x00d45b72b5d15526), UINT64_C(0x2eb61ac4787a3518), UINT64_C(0x30c0ba726a6718b6),
    UINT64_C(0xb76dec26d95a78e2), UINT64_C(0x1ea7440e03f1b14c), UINT64_C(0x5718b5a5cfd278ce),
    UINT64_C(0x816b58a24f595452), UINT64_C(0x18f7ec7840eb12be), UINT64_C(0xf17b3efc029500b8),
    UINT64_C(0x6593d3e9f3918064), UINT64_C(0xdfac09304fd723e6), UINT64_C(0x57c8b3e90582df7a),
    UINT64_C(0xb259c18ae8b55518), UINT64_C(0x15551f6531b2cb72), UINT64_C(0x566ff258d900762a),
    UINT64_C(0x18a94bd29c1e1cf0), UINT64_C(0x2bf36dd218146064), UINT64_C(0xcf273f5486d8f0e8),
    UINT64_C(0xa2d7fd1ed5148192), UINT64_C(0x8930570c4c7fa5f4), UINT64_C(0xc50bf673f309cb06),
    UINT64_C(0xef351bee5aec33a6), UINT64_C(0xe5af351bd1abba3c), UINT64_C(0xa206e6a9accd09c4),
    UINT64_C(0x00990549ccd151ca), UINT64_C(0x63a814ecd16089cc), UINT64_C(0xae0af0a717a05822),
    UINT64_C(0xb68a8620f18be904), UINT64_C(0x2ee24376fed4a35a), UINT64_C(0xe7ab997a69dff1ba),
    UINT64_C(0xc86f40fa6adc2f9a), UINT64_C(0x8f64f0408792ac4e), UINT64_C(0x3f64a2827c83a934),
    UINT64_C(0x99ae16c0ca4a27a6), UINT64_C(0x392b663d14369364), UINT64_C(0x95ce7bfa37969836),
    UINT64_C(0x69b3066363eb6e1e), UINT64_C(0xf09c73e44671b25e), UINT64_C(0x30c27a940c9be840),
    UINT64_C(0xe3b1b5c4be179d7c), UINT64_C(0x67eef82b5d0abdf8), UINT64_C(0x7911677225d62138),
    UINT64_C(0x2ad45d92d75fdd4a), UINT64_C(0x35400b6bc15a1d0e), UINT64_C(0xaa01ae0a4f89771c),
    UINT64_C(0xc6d8ae32c8439888), UINT64_C(0x2789a50d986ddc72), UINT64_C(0xaca9447b03165502),
    UINT64_C(0xef63b827a2c357b8), UINT64_C(0xe69e89bcbf1abd6a), UINT64_C(0xc0e2fc2e94d91344),
    UINT64_C(0xa8fb2c924cd4423c), UINT64_C(0xb6274864576d3d20), UINT64_C(0xeecd2c13f16bf878),
    UINT64_C(0x43cd58ab7db9b592), UINT64_C(0x36ad6c56c22cdbd4), UINT64_C(0xe91ecd7272f2fd38),
    UINT64_C(0x6be665f381cd5d34), UINT64_C(0x98e67ed5350f1b60), UINT64_C(0x7b42c3c839821184),
    UINT64_C(0x6fae95ca6b229aa2), UINT64_C(0x9a92761623a6c8d2), UINT64_C(0x9c4c9a3bf752e834),
    UINT64_C(0x53a3e5b8e86db80c), UINT64_C(0xe0e7002cc098544e), UINT64_C(0x463a6dd2dd27e7aa),
    UINT64_C(0xeccd10232f071a32), UINT64_C(0x945506121555a818), UINT64_C(0xe3cec2b22cd166ba),
    UINT64_C(0xe6c646c92fee614e), UINT64_C(0x602101c6e6f3ba9a), UINT64_C(0xa05bd452e304e084),
    UINT64_C(0x858bd70b1e64c4be), UINT64_C(0xf0d5f73dbf5f7bfe), UINT64_C(0xb5dc1b0d09216548),
    UINT64_C(0xc2e6cd664d0c13ec), UINT64_C(0x5c1c6b41fc8c2e7c), UINT64_C(0xa340fbd27d049e22),
    UINT64_C(0x0f371622bd499950), UINT64_C(0x275324e8ab1f5d76), UINT64_C(0xf63cdc45c1140766),
    UINT64_C(0xd4c6bfb746d31ba0), UINT64_C(0x9ea6cb2650a074b8), UINT64_C(0x9bc7663cdfabaf00),
    UINT64_C(0x1c7c8443a6c28826), UINT64_C(0xde29a1b0d7e34458), UINT64_C(0xc3b061a7e2d8bbb6),
    UINT64_C(0x557a56548a2a09c2),
};

/*
 * MASKS[bits]: a mask with `bits` one-bits spread over the upper half of the
 * fingerprint (the paper reports slightly better dedup with spread bits).
 * Entries 6..22 are the destor/fastcdc-rs values; 5 and 23..25 only serve
 * normalization levels reaching past the average-size bounds.
 */
static const uint64_t MASKS[26] = {
    0, 0, 0, 0, 0,
    UINT64_C(0x0000000001804110), /* 5: only for level 3 at avg 256 */
    UINT64_C(0x0000000001803110), /* 64 B */
    UINT64_C(0x0000000018035100), /* 128 B */
    UINT64_C(0x0000001800035300), /* 256 B */
    UINT64_C(0x0000019000353000), /* 512 B */
    UINT64_C(0x0000590003530000), /* 1 KiB */
    UINT64_C(0x0000d90003530000), /* 2 KiB */
    UINT64_C(0x0000d90103530000), /* 4 KiB */
    UINT64_C(0x0000d90303530000), /* 8 KiB */
    UINT64_C(0x0000d90313530000), /* 16 KiB */
    UINT64_C(0x0000d90f03530000), /* 32 KiB */
    UINT64_C(0x0000d90303537000), /* 64 KiB */
    UINT64_C(0x0000d90703537000), /* 128 KiB */
    UINT64_C(0x0000d90707537000), /* 256 KiB */
    UINT64_C(0x0000d91707537000), /* 512 KiB */
    UINT64_C(0x0000d91747537000), /* 1 MiB */
    UINT64_C(0x0000d91767537000), /* 2 MiB */
    UINT64_C(0x0000d93767537000), /* 4 MiB */
    UINT64_C(0x0000d93777537000), /* 8 MiB */
    UINT64_C(0x0000d93777577000), /* 16 MiB */
    UINT64_C(0x0000db3777577000), /* 25: only for level 3 at avg 4 MiB */
};

/* round(log2(v)) for v >= 1, in integers: floor(log2(2 * v * v)) / 2.
 * (Same result as fastcdc-rs `(v as f64).log2().round()`.) */
static int round_log2(uint64_t v)
{
    uint64_t x = 2 * v * v; /* v <= 4 MiB, so x < 2^45 */
    int bits = -1;
    while (x) {
        x >>= 1;
        bits++;
    }
    return bits / 2;
}

int ls_fastcdc_init(ls_fastcdc_params *params, uint64_t min_size,
                    uint64_t avg_size, uint64_t max_size, int level)
{
    int bits;

    if (min_size < LS_FASTCDC_MIN_SIZE_LOWER || min_size > LS_FASTCDC_MIN_SIZE_UPPER
        || avg_size < LS_FASTCDC_AVG_SIZE_LOWER || avg_size > LS_FASTCDC_AVG_SIZE_UPPER
        || max_size < LS_FASTCDC_MAX_SIZE_LOWER || max_size > LS_FASTCDC_MAX_SIZE_UPPER
        || min_size > avg_size || avg_size > max_size
        || level < 0 || level > LS_FASTCDC_LEVEL_UPPER)
        return -1;
    bits = round_log2(avg_size);
    params->min_size = min_size;
    params->avg_size = avg_size;
    params->max_size = max_size;
    params->mask_s = MASKS[bits + level]; /* more bits: cuts are rarer before avg */
    params->mask_l = MASKS[bits - level]; /* fewer bits: cuts come sooner after avg */
    return 0;
}

/*
 * One step of two bytes at p[k], p[k + 1].  Returns from the enclosing
 * function with the position of the byte whose fingerprint matched: the
 * chunk ends just before it (the fastcdc-rs convention, kept for identical
 * cut points).
 */
#define LS_STEP(k)                                              \
    fp = (fp << 2) + GEAR_LS[p[(k)]];                           \
    if (LS_UNLIKELY(!(fp & mask_ls)))                           \
        return p + (k);                                         \
    fp += GEAR[p[(k) + 1]];                                     \
    if (LS_UNLIKELY(!(fp & mask)))                              \
        return p + (k) + 1;

/*
 * Scan the byte pairs of [p, end) (an even number of bytes) with one mask,
 * carrying the fingerprint in *fpp.  Returns the matching position, or end.
 */
LS_INLINE const uint8_t *scan(const uint8_t *p, const uint8_t *end,
                              uint64_t *fpp, uint64_t mask)
{
    uint64_t fp = *fpp;
    const uint64_t mask_ls = mask << 1;

    while (end - p >= 16) {
        LS_STEP(0) LS_STEP(2) LS_STEP(4) LS_STEP(6)
        LS_STEP(8) LS_STEP(10) LS_STEP(12) LS_STEP(14)
        p += 16;
    }
    while (p < end) {
        LS_STEP(0)
        p += 2;
    }
    *fpp = fp;
    return end;
}

/*
 * The length of the chunk at the start of src[0:n) (paper Algorithm 2 with
 * normalized chunking and cut-point skipping).  A result < min(n, max_size)
 * was found by the hash; otherwise it is the size limit.
 */
LS_INLINE size_t cut(const ls_fastcdc_params *params, const uint8_t *src, size_t n)
{
    size_t min_size = (size_t)params->min_size;
    size_t normal = (size_t)params->avg_size; /* the paper's NormalSize */
    size_t limit = n;
    uint64_t fp = 0;
    const uint8_t *mid, *end, *at;

    if (n <= min_size)
        return n;
    if (limit > params->max_size)
        limit = (size_t)params->max_size;
    else if (limit < normal)
        normal = limit;
    /* Two bytes per step: every bound is rounded down to even. */
    mid = src + (normal & ~(size_t)1);
    end = src + (limit & ~(size_t)1);
    /* Cut-point skipping: the first min_size bytes are not hashed at all. */
    at = scan(src + (min_size & ~(size_t)1), mid, &fp, params->mask_s);
    if (at != mid)
        return (size_t)(at - src);
    at = scan(mid, end, &fp, params->mask_l);
    if (at != end)
        return (size_t)(at - src);
    return limit; /* no cut found: pathological data such as all zeros */
}

size_t ls_fastcdc_cuts(const ls_fastcdc_params *params, const uint8_t *buf,
                       size_t len, int final, uint64_t *cuts, size_t max_cuts)
{
    size_t pos = 0, count = 0;

    while (pos < len && count < max_cuts) {
        size_t rest = len - pos;
        size_t c = cut(params, buf + pos, rest);
        /* A cut found by the hash, or forced at max_size, is final whatever
         * follows; one forced by the end of the buffer is not, until the
         * caller says the buffer is the end of the stream. */
        if (!final && c == rest && rest < params->max_size)
            break;
        pos += c;
        cuts[count++] = (uint64_t)pos;
    }
    return count;
}
