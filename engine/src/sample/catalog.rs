//! The sample company's world: what PT Kayu Jaya Nusantara sells, where its customers are and
//! what they are called.

/// A product in the sample catalogue: SKU, name, category, make-to-order, list price (rupiah).
pub(crate) struct Product {
    pub(crate) sku: &'static str,
    pub(crate) name: &'static str,
    pub(crate) category: &'static str,
    pub(crate) make_to_order: bool,
    pub(crate) list_price: i64,
    /// Cost of goods as a share of the list price.
    pub(crate) cost_share: f64,
}

macro_rules! products {
    ($($sku:literal, $name:literal, $cat:literal, $mto:literal, $price:literal, $cost:literal;)*) => {
        &[$(Product { sku: $sku, name: $name, category: $cat, make_to_order: $mto, list_price: $price, cost_share: $cost }),*]
    };
}

pub(crate) const PRODUCTS: &[Product] = products![
    "SOF-JPR-3S", "Sofa Jepara 3 dudukan jati", "sofa", true, 8_500_000, 0.58;
    "SOF-JPR-2S", "Sofa Jepara 2 dudukan jati", "sofa", true, 6_200_000, 0.58;
    "SOF-MNM-L", "Sofa minimalis sudut L", "sofa", true, 9_800_000, 0.60;
    "SOF-RTN-1", "Kursi sofa rotan", "sofa", true, 2_900_000, 0.55;
    "TBL-DIN-6", "Meja makan jati 6 kursi", "table", true, 12_500_000, 0.57;
    "TBL-DIN-4", "Meja makan jati 4 kursi", "table", true, 7_800_000, 0.57;
    "TBL-COF-TK", "Meja tamu trembesi", "table", true, 3_400_000, 0.55;
    "TBL-OFC-ME", "Meja kantor eksekutif", "table", true, 6_900_000, 0.60;
    "CAB-WRD-3P", "Lemari pakaian 3 pintu", "cabinet", true, 7_200_000, 0.59;
    "CAB-BUF-UK", "Bufet ukir Jepara", "cabinet", true, 9_400_000, 0.56;
    "CAB-TV-MNM", "Rak TV minimalis", "cabinet", true, 2_600_000, 0.60;
    "CHR-DIN-JT", "Kursi makan jati", "chair", true, 950_000, 0.58;
    "CHR-OFC-ER", "Kursi kantor ergonomis", "chair", false, 2_100_000, 0.70;
    "BED-KNG-UK", "Ranjang king ukir", "bed", true, 11_000_000, 0.57;
    "BED-QN-MNM", "Ranjang queen minimalis", "bed", true, 6_500_000, 0.59;
    "APL-FAN-ST", "Kipas angin berdiri", "appliance", false, 450_000, 0.78;
    "APL-RCK-18", "Penanak nasi 1,8 L", "appliance", false, 520_000, 0.80;
    "APL-AC-1PK", "AC split 1 PK", "appliance", false, 4_300_000, 0.82;
    "APL-DSP-HC", "Dispenser air panas dingin", "appliance", false, 1_350_000, 0.79;
    "CUS-SQ-45", "Bantal sofa 45 cm", "cushion", false, 185_000, 0.45;
    "CUS-LMB-30", "Bantal pinggang", "cushion", false, 145_000, 0.45;
    "CUS-SET-4", "Set 4 bantal sofa", "cushion", false, 650_000, 0.44;
    "COV-SOF-3S", "Sarung sofa 3 dudukan", "cover", false, 420_000, 0.48;
    "COV-SOF-L", "Sarung sofa sudut L", "cover", false, 560_000, 0.48;
    "COV-TBL-LN", "Taplak meja linen", "cover", false, 210_000, 0.46;
    "LMP-FLR-RT", "Lampu lantai rotan", "lamp", false, 780_000, 0.52;
    "LMP-TBL-KY", "Lampu meja kayu", "lamp", false, 390_000, 0.50;
    "LMP-PND-BB", "Lampu gantung bambu", "lamp", false, 540_000, 0.51;
];

/// A city: name, region (province), IANA time zone, relative weight.
pub(crate) const CITIES: &[(&str, &str, &str, u32)] = &[
    ("Jakarta", "DKI Jakarta", "Asia/Jakarta", 22),
    ("Surabaya", "Jawa Timur", "Asia/Jakarta", 10),
    ("Bandung", "Jawa Barat", "Asia/Jakarta", 9),
    ("Semarang", "Jawa Tengah", "Asia/Jakarta", 6),
    ("Jepara", "Jawa Tengah", "Asia/Jakarta", 4),
    ("Yogyakarta", "DI Yogyakarta", "Asia/Jakarta", 5),
    ("Malang", "Jawa Timur", "Asia/Jakarta", 4),
    ("Bekasi", "Jawa Barat", "Asia/Jakarta", 5),
    ("Tangerang", "Banten", "Asia/Jakarta", 5),
    ("Medan", "Sumatera Utara", "Asia/Jakarta", 6),
    ("Palembang", "Sumatera Selatan", "Asia/Jakarta", 3),
    ("Pekanbaru", "Riau", "Asia/Jakarta", 2),
    ("Padang", "Sumatera Barat", "Asia/Jakarta", 2),
    ("Bandar Lampung", "Lampung", "Asia/Jakarta", 2),
    ("Denpasar", "Bali", "Asia/Makassar", 5),
    ("Makassar", "Sulawesi Selatan", "Asia/Makassar", 4),
    ("Manado", "Sulawesi Utara", "Asia/Makassar", 2),
    ("Balikpapan", "Kalimantan Timur", "Asia/Makassar", 2),
    ("Kendari", "Sulawesi Tenggara", "Asia/Makassar", 1),
    ("Jayapura", "Papua", "Asia/Jayapura", 1),
];

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Budi", "Siti", "Agus", "Dewi", "Rina", "Andi", "Wahyu", "Putri", "Made", "Ketut", "Nyoman",
    "Wayan", "Yusuf", "Fitri", "Eko", "Sri", "Bambang", "Lestari", "Hendra", "Ayu", "Rudi",
    "Indah", "Joko", "Ratna", "Dian", "Arif", "Nur", "Taufik", "Maya", "Fajar", "Ani", "Irfan",
    "Yanti", "Rizky", "Wulan", "Hadi", "Novi", "Teguh", "Citra", "Ahmad", "Mega", "Dedi", "Sari",
    "Gede", "Lina", "Rahmat", "Tuti", "Yohanes", "Maria",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Santoso",
    "Wijaya",
    "Saputra",
    "Hidayat",
    "Pratama",
    "Kusuma",
    "Setiawan",
    "Nugroho",
    "Siregar",
    "Harahap",
    "Simanjuntak",
    "Wibowo",
    "Gunawan",
    "Halim",
    "Susanto",
    "Purnomo",
    "Rahayu",
    "Suryadi",
    "Lubis",
    "Nasution",
    "Tanjung",
    "Sembiring",
    "Manurung",
    "Sinaga",
    "Pangaribuan",
    "Putra",
    "Utami",
    "Hakim",
    "Firmansyah",
    "Kurniawan",
];

pub(crate) const COMPANY_WORDS: &[&str] = &[
    "Maju",
    "Jaya",
    "Makmur",
    "Sejahtera",
    "Abadi",
    "Sentosa",
    "Mulia",
    "Karya",
    "Bintang",
    "Sumber",
    "Mitra",
    "Lestari",
    "Cahaya",
    "Indah",
    "Prima",
    "Nusantara",
    "Mandiri",
    "Agung",
];

pub(crate) const HOTEL_WORDS: &[&str] = &[
    "Hotel Santika",
    "Hotel Grand",
    "Resort Puri",
    "Villa Taman",
    "Kantor",
    "Wisma",
    "Apartemen",
    "Rumah Sakit",
    "Universitas",
    "Kafe",
];

pub(crate) const SALES_REPS: &[&str] = &["Andi", "Bayu", "Citra", "Dimas", "Eka", "Farah"];

pub(crate) const COMPLAINT_CATEGORIES: &[&str] = &[
    "late_delivery",
    "damaged_in_transit",
    "wrong_item",
    "finish_quality",
    "billing",
];

pub(crate) const COMPLAINT_CHANNELS: &[&str] = &["phone", "whatsapp", "email", "visit"];

pub(crate) const EMAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "yahoo.co.id",
    "outlook.com",
    "gmail.com",
    "ymail.com",
];
