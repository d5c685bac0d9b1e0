// Billing-code extraction: a hand-written, table-driven scanner over decoded UTF-8 text.
//
// Overview (one pass per text source):
//   1. Walk the text; at every start of an ASCII alphanumeric run that is not glued to a preceding
//      word character, ask each code family (kFamilies) whether a code of its shape starts here.
//   2. Reject candidates whose surroundings say "this is not a code": digit groups glued with
//      - . : , (phones, dates, claim numbers, money, NDCs, ZIP+4), '#', '$', labels such as "ZIP",
//      "Room", "Claim", "NPI", "Lot", and "City, ST 12345" address lines.
//   3. Read what follows the code: a range end ("99202-99215"), modifier chains ("-50",
//      "-RT-XS", "-LT/RT", " 59", "RR KX", "mod 50", "with JZ") and units ("x2", "x 2", "×2",
//      "2 units").
//   4. Merge mentions into one Code per distinct code, in order of first mention.
//
// Pure functions, no I/O. Arbitrary bytes are accepted: non-ASCII sequences that are not known
// punctuation/spaces count as word characters, so nothing glued to them is extracted.

#include "parsers/codes.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace casedesk::parsers {

std::string_view to_string(CodeSystem s) {
  switch (s) {
    case CodeSystem::cpt: return "CPT";
    case CodeSystem::hcpcs: return "HCPCS";
    case CodeSystem::icd10cm: return "ICD-10-CM";
    case CodeSystem::icd10pcs: return "ICD-10-PCS";
  }
  return "CPT";
}

namespace {

// ------------------------------------------------------------------------------------------------
// ASCII helpers

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_alpha(char c) { return is_upper(c) || is_lower(c); }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
char to_upper(char c) { return is_lower(c) ? static_cast<char>(c - 'a' + 'A') : c; }
char to_lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_upper(c);
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

bool has_digit(std::string_view s) { return std::any_of(s.begin(), s.end(), is_digit); }

// A set over a space-separated word list (built once; for the lists looked up per word of text).
class WordSet {
 public:
  explicit WordSet(std::string_view list) {
    std::size_t pos = 0;
    while (pos < list.size()) {
      std::size_t end = list.find(' ', pos);
      if (end == std::string_view::npos) end = list.size();
      if (end > pos) words_.insert(list.substr(pos, end - pos));
      pos = end + 1;
    }
  }
  bool has(std::string_view w) const { return words_.count(w) > 0; }

 private:
  std::unordered_set<std::string_view> words_;
};

bool contains(std::string_view list, std::string_view word) {
  // list: space-separated words
  std::size_t pos = 0;
  while (pos < list.size()) {
    std::size_t end = list.find(' ', pos);
    if (end == std::string_view::npos) end = list.size();
    if (list.substr(pos, end - pos) == word) return true;
    pos = end + 1;
  }
  return false;
}

// ------------------------------------------------------------------------------------------------
// Tables

// Letters CMS uses for HCPCS Level II codes (Jan 2026 file; D-codes are ADA CDT).
constexpr std::string_view kHcpcsLetters = "ABCEGHJKLMPQRSTUV";

// ICD-10-CM categories whose 3rd character is a letter.
constexpr std::string_view kIcdLetterCategories = "C4A C7A C7B D3A I1A I5A J4A M1A O9A Z3A QA0";

// CPT Level I numeric modifiers, Category II modifiers and all HCPCS Level II modifiers of the
// CMS Jan 2026 alpha-numeric file (including terminated ones: they are still written in mails).
constexpr std::string_view kModifiers =
    "22 23 24 25 26 27 32 33 47 50 51 52 53 54 55 56 57 58 59 62 63 66 73 74 76 77 78 79 80 81 82 "
    "90 91 92 93 95 96 97 99 1P 2P 3P 8P "
    "A1 A2 A3 A4 A5 A6 A7 A8 A9 AA AB AD AE AF AG AH AI AJ AK AM AO AP AQ AR AS AT AU AV AW AX AY "
    "AZ BA BL BO BP BR BU CA CB CC CD CE CF CG CH CI CJ CK CL CM CN CO CP CQ CR CS CT DA E1 E2 E3 "
    "E4 EA EB EC ED EE EJ EM EP ER ET EX EY F1 F2 F3 F4 F5 F6 F7 F8 F9 FA FB FC FP FQ FR FS FT FX "
    "FY G0 G1 G2 G3 G4 G5 G6 G7 G8 G9 GA GB GC GD GE GF GG GH GJ GK GL GM GN GO GP GQ GR GS GT GU "
    "GV GW GX GY GZ H9 HA HB HC HD HE HF HG HH HI HJ HK HL HM HN HO HP HQ HR HS HT HU HV HW HX HY "
    "HZ J1 J2 J3 J4 J5 JA JB JC JD JE JF JG JK JL JW JZ K0 K1 K2 K3 K4 KA KB KC KD KE KF KG KH KI "
    "KJ KK KL KM KN KO KP KQ KR KS KT KU KV KW KX KY KZ L1 LC LD LL LM LR LS LT LU M2 MA MB MC MD "
    "ME MF MG MH MS N1 N2 N3 NB NR NU P1 P2 P3 P4 P5 P6 PA PB PC PD PI PL PM PN PO PS PT Q0 Q1 Q2 "
    "Q3 Q4 Q5 Q6 Q7 Q8 Q9 QA QB QC QD QE QF QG QH QJ QK QL QM QN QP QQ QR QS QT QW QX QY QZ RA RB "
    "RC RD RE RI RR RT SA SB SC SD SE SF SG SH SJ SK SL SM SN SQ SS ST SU SV SW SY SZ T1 T2 T3 T4 "
    "T5 T6 T7 T8 T9 TA TB TC TD TE TF TG TH TJ TK TL TM TN TP TQ TR TS TT TU TV TW U1 U2 U3 U4 U5 "
    "U6 U7 U8 U9 UA UB UC UD UE UF UG UH UJ UK UN UP UQ UR US V1 V2 V3 V4 V5 V6 V7 V8 V9 VM VP X1 "
    "X2 X3 X4 X5 XE XP XS XU ZA ZB ZC";

// HCPCS Level II codes (CMS Jan 2026 file) that are also, undotted, an ICD-10-CM FY2026 code or
// category/subcategory (676 of 8,623; generated once from the CMS HCPCS and CDC ICD-10-CM 2026 files, sorted).
constexpr std::string_view kAmbiguousHcpcsIcd =
    "A0100 A0225 A4281 A4282 A5051 A5052 A5053 A5054 A5055 A5056 A5057 A5131 A5200 A6000 B4081 C7900 "
    "C7901 C7902 C9021 C9022 C9030 C9031 C9032 C9101 C9132 C9140 C9141 C9142 C9150 C9151 C9152 C9160 "
    "C9161 C9162 C9250 C9290 C9300 C9301 C9302 C9441 C9442 C9480 C9481 C9482 E0500 E0530 E0580 E0781 "
    "E0840 E0849 E0900 E0910 E0911 E0935 E0936 E0940 E0941 E0942 E0944 E0951 E0952 E0959 E0961 E0969 "
    "E1010 E1011 E1022 E1029 E1031 E1032 E1033 E1034 E1035 E1036 E1037 E1039 E1100 E1110 E1140 E1161 "
    "E1300 E1301 E1310 E1352 E2601 E2602 E2609 G0400 G0402 G0431 G0432 G0439 G0481 G0482 G0490 G0491 "
    "G2119 G4000 G4001 G4010 G4011 G4020 G4021 G4030 G4031 G8911 G8912 G8918 G8928 G8929 G9001 G9009 "
    "G9050 G9051 G9052 G9059 G9089 G9200 G9201 G9202 G9203 G9204 G9205 G9340 G9341 G9342 G9343 G9344 "
    "G9345 G9349 G9381 G9382 G9389 G9511 G9519 G9520 G9529 G9581 G9600 G9601 G9602 G9608 G9609 G9611 "
    "G9612 G9619 G9681 G9689 G9731 G9732 G9741 G9748 G9749 G9751 G9752 G9761 G9762 G9763 G9764 G9781 "
    "G9782 G9783 G9784 H0001 H0002 H0003 H0011 H0012 H0013 H0014 H0015 H0016 H0019 H1001 H1002 H1010 "
    "H1011 H2000 H2001 H2010 H2011 H2012 H2013 H2020 H2021 H2022 H2023 J0120 J0121 J0130 J0131 J0180 "
    "J0190 J0300 J0380 J0390 J0391 J1000 J1100 J1561 J1569 J3489 J9311 J9312 J9381 J9382 J9600 K0601 "
    "K0602 K0812 K0813 K0820 K0821 K0822 K0823 K0824 K0825 K0826 K0840 K0841 K0842 K0843 K0849 K0850 "
    "K0851 K0852 K0853 K0854 K0855 K0856 K0859 L1230 L4050 L6610 L6611 L6689 M0001 M0002 M0003 M0004 "
    "M0005 M0010 M0201 M0220 M0221 M0222 M0223 M0224 M0235 M0236 M0237 M0238 M0239 M1000 M1001 M1002 "
    "M1003 M1004 M1005 M1006 M1007 M1008 M1009 M1010 M1011 M1012 M1013 M1014 M1015 M1016 M1017 M1018 "
    "M1019 M1020 M1021 M1022 M1023 M1024 M1025 M1026 M1027 M1028 M1029 M1030 M1031 M1032 M1033 M1034 "
    "M1035 M1036 M1037 M1038 M1039 M1040 M1041 M1042 M1043 M1044 M1045 M1046 M1047 M1048 M1049 M1106 "
    "M1107 M1108 M1109 M1110 M1111 M1112 M1113 M1114 M1115 M1116 M1117 M1118 M1119 M1120 M1121 M1122 "
    "M1123 M1124 M1125 M1126 M1127 M1128 M1129 M1180 M1181 M1182 M1183 M1184 M1185 M1186 M1187 M1188 "
    "M1189 M1200 M1201 M1202 M1203 M1204 M1205 M1206 M1207 M1208 M1209 M1210 M1211 M1212 M1213 M1214 "
    "M1215 M1216 M1217 M1218 M1219 M1220 M1221 M1222 M1223 M1224 M1225 M1226 M1227 M1228 M1229 M1230 "
    "M1231 M1232 M1233 M1234 M1235 M1236 M1237 M1238 M1239 M1240 M1241 M1242 M1243 M1244 M1245 M1246 "
    "M1247 M1248 M1249 M1250 M1251 M1252 M1253 M1254 M1255 M1256 M1257 M1258 M1259 M1280 M1281 M1282 "
    "M1283 M1284 M1285 M1286 M1287 M1288 M1289 M1310 M1311 M1312 M1313 M1314 M1315 M1316 M1317 M1380 "
    "M1381 M1382 M1383 M1384 M1385 M1386 M1387 M1388 M1460 M1461 M1462 M1463 M1464 M1465 M1466 M1467 "
    "M1468 M1469 M1480 M1481 M1482 M1483 M1484 M1485 M1486 M1487 M1488 M1489 Q5001 Q5002 Q5110 Q5111 "
    "Q5121 Q5122 Q5128 Q9981 Q9989 S0012 S0020 S0021 S0030 S0032 S0034 S0040 S0080 S0081 S0090 S0091 "
    "S0092 S0093 S0104 S0122 S0132 S0140 S0142 S0144 S0145 S0155 S0182 S0183 S0190 S0191 S0194 S0195 "
    "S0260 S0265 S0280 S0281 S0285 S0302 S0340 S0341 S0342 S0500 S0510 S0512 S0590 S0592 S0630 S0812 "
    "S1015 S1016 S1090 S1091 S2095 S2102 S2103 S2112 S2115 S2120 S2140 S2142 S2202 S2205 S2206 S2207 "
    "S2208 S2341 S2342 S2411 S2900 S3600 S3620 S3630 S3650 S3652 S3722 S3800 S3900 S3902 S4021 S4022 "
    "S4024 S4025 S4026 S4027 S4981 S4990 S4991 S5000 S5001 S5010 S5011 S5012 S5035 S5036 S5100 S5101 "
    "S5102 S5105 S5180 S5181 S5185 S5501 S5520 S5521 S8085 S8092 S8100 S8101 S8185 S8210 S8262 S8265 "
    "S8301 S8420 S8421 S8422 S8490 S8930 S8990 S9001 S9002 S9055 S9056 S9110 S9122 S9123 S9124 S9125 "
    "S9131 S9211 S9212 S9213 S9214 S9330 S9331 S9340 S9341 S9342 S9343 S9349 S9351 S9361 S9401 S9430 "
    "S9432 S9490 S9500 S9501 S9529 S9590 S9900 S9901 S9981 S9982 S9991 S9992 T1502 T2001 T2002 T2003 "
    "T2004 T2005 T2007 T2010 T2011 T2012 T2013 T2014 T2015 T2016 T2017 T2019 T2020 T2021 T2022 T2023 "
    "T2024 T2025 T2026 T2027 T2029 T2030 T2031 T2032 T2033 T2034 T2035 T2036 T2037 T2039 T2040 T2041 "
    "T2042 T2043 T2044 T2045 T2046 T2047 T2049 T2050 T2051 T2101 V2101 V2109 V2111 V2121 V2199 V2201 "
    "V2209 V2211 V2219 V2221 V2299 V2301 V2309 V2311 V2319 V2321 V2399 V2499 V2501 V2511 V2521 V2531 "
    "V2599 V2629 V2631 V2799 ";

bool is_ambiguous_hcpcs_icd(std::string_view code) {
  if (code.size() != 5) return false;
  std::size_t lo = 0, hi = (kAmbiguousHcpcsIcd.size() + 1) / 6;
  while (lo < hi) {
    std::size_t mid = (lo + hi) / 2;
    std::string_view e = kAmbiguousHcpcsIcd.substr(mid * 6, 5);
    if (e == code) return true;
    if (e < code) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

bool is_known_modifier(std::string_view upper_token) {
  static const WordSet kSet(kModifiers);
  return upper_token.size() == 2 && kSet.has(upper_token);
}

// US state / territory abbreviations, for "City, ST 12345" ZIP lines.
constexpr std::string_view kStates =
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP";

// A word before a number that says the number is an identifier, not a code.
enum class LabelStrength {
  strong,             // always disqualifies ("ZIP 60614", "Room B1204", "NPI 1234567893")
  capital_or_marker,  // only "Claim 12345" / "claim #12345" / "claim no. 12345", not "on claim 99213"
  marker_only,        // only "check #88213" / "check no. 88213", not "check 99213 vs 99214"
};
struct Label {
  std::string_view word;  // lower case
  LabelStrength strength;
  bool applies_to_dotted;  // also disqualifies dotted diagnosis codes ("Model A12.5", not "claim: G47.33")
};
constexpr std::array kLabels = std::to_array<Label>({
    {"zip", LabelStrength::strong, false},        {"zipcode", LabelStrength::strong, false},
    {"postal", LabelStrength::strong, false},     {"room", LabelStrength::strong, true},
    {"rm", LabelStrength::strong, true},          {"suite", LabelStrength::strong, true},
    {"ste", LabelStrength::strong, true},         {"bay", LabelStrength::strong, true},
    {"bed", LabelStrength::strong, true},         {"box", LabelStrength::strong, false},
    {"building", LabelStrength::strong, true},    {"bldg", LabelStrength::strong, true},
    {"floor", LabelStrength::strong, false},      {"lot", LabelStrength::strong, true},
    {"batch", LabelStrength::strong, true},       {"serial", LabelStrength::strong, true},
    {"sn", LabelStrength::strong, true},          {"model", LabelStrength::strong, true},
    {"version", LabelStrength::strong, true},     {"ver", LabelStrength::strong, true},
    {"firmware", LabelStrength::strong, true},    {"icn", LabelStrength::strong, false},
    {"dcn", LabelStrength::strong, false},        {"tcn", LabelStrength::strong, false},
    {"mrn", LabelStrength::strong, false},        {"mr", LabelStrength::strong, false},
    {"acct", LabelStrength::strong, false},       {"account", LabelStrength::strong, false},
    {"invoice", LabelStrength::strong, false},    {"inv", LabelStrength::strong, false},
    {"npi", LabelStrength::strong, false},        {"tin", LabelStrength::strong, false},
    {"ein", LabelStrength::strong, false},        {"ssn", LabelStrength::strong, false},
    {"dob", LabelStrength::strong, false},        {"authorization", LabelStrength::strong, false},
    {"confirmation", LabelStrength::strong, false}, {"conf", LabelStrength::strong, false},
    {"tracking", LabelStrength::strong, false},   {"trace", LabelStrength::strong, false},
    {"eft", LabelStrength::strong, false},        {"phone", LabelStrength::strong, false},
    {"ph", LabelStrength::strong, false},         {"tel", LabelStrength::strong, false},
    {"telephone", LabelStrength::strong, false},  {"fax", LabelStrength::strong, false},
    {"ext", LabelStrength::strong, false},        {"extension", LabelStrength::strong, false},
    {"cell", LabelStrength::strong, false},       {"mobile", LabelStrength::strong, false},
    {"pager", LabelStrength::strong, false},      {"payer", LabelStrength::strong, false},
    {"ndc", LabelStrength::strong, false},        {"fy", LabelStrength::strong, false},
    {"page", LabelStrength::strong, true},        {"pg", LabelStrength::strong, true},
    {"ref", LabelStrength::strong, false},        {"reference", LabelStrength::strong, false},
    {"ticket", LabelStrength::strong, false},     {"pin", LabelStrength::strong, false},
    {"usd", LabelStrength::strong, false},        {"amount", LabelStrength::strong, false},
    {"claim", LabelStrength::capital_or_marker, false},
    {"member", LabelStrength::capital_or_marker, false},
    {"mbr", LabelStrength::capital_or_marker, false},
    {"subscriber", LabelStrength::capital_or_marker, false},
    {"policy", LabelStrength::capital_or_marker, false},
    {"auth", LabelStrength::capital_or_marker, false},
    {"case", LabelStrength::capital_or_marker, false},
    {"order", LabelStrength::capital_or_marker, false},
    {"group", LabelStrength::marker_only, false}, {"grp", LabelStrength::marker_only, false},
    {"check", LabelStrength::marker_only, false}, {"chk", LabelStrength::marker_only, false},
    {"line", LabelStrength::marker_only, false},
});

// Words between a label and its number: "Payer ID 87726", "claim no. 12345", "member number".
constexpr std::string_view kLabelFillers = "id no nr num nbr number";
// Fillers that mark the next number as an identifier ("check no. 123").
constexpr std::string_view kLabelMarkers = "no nr num nbr number id";

// Street suffixes and directions: "12707 E Mission Ave" is an address, not a code.
constexpr std::string_view kStreetSuffixes =
    "st street ave avenue blvd boulevard rd road dr drive ln lane way ct court pkwy parkway hwy "
    "highway pl place ter terrace cir circle loop trl trail sq square";
constexpr std::string_view kDirections = "n s e w ne nw se sw north south east west";

// Words that open a diagnosis list ("Dx: E11.65, I10, Z79.84", "ICD-10 m5450").
constexpr std::string_view kDiagnosisCues = "dx dxs diagnosis diagnoses diag icd icd10";
// Letter+digit tokens that are known non-diagnoses even in a diagnosis list.
constexpr std::string_view kNotDiagnoses = "B12 T10 T11 T12";

// Words after "99213 25" that make the 25 a quantity rather than a modifier.
constexpr std::string_view kQuantityWords =
    "min mins minute minutes hr hrs hour hours unit units u mg mcg ml cc cm mm kg lb lbs yo year "
    "years yr yrs day days week weeks wk wks month months mo visit visits time times patient "
    "patients pts sessions session sites site percent pct of";

// ------------------------------------------------------------------------------------------------
// UTF-8 glyphs that behave like ASCII punctuation. Any other non-ASCII sequence is a word
// character (conservative: nothing glued to it is extracted).

enum class GlyphKind { space, dash, times, punct };
struct Glyph {
  std::string_view bytes;
  GlyphKind kind;
};
constexpr std::array kGlyphs = std::to_array<Glyph>({
    {"\xC2\xA0", GlyphKind::space},      // no-break space
    {"\xE2\x80\x80", GlyphKind::space},  {"\xE2\x80\x81", GlyphKind::space},
    {"\xE2\x80\x82", GlyphKind::space},  {"\xE2\x80\x83", GlyphKind::space},
    {"\xE2\x80\x84", GlyphKind::space},  {"\xE2\x80\x85", GlyphKind::space},
    {"\xE2\x80\x86", GlyphKind::space},  {"\xE2\x80\x87", GlyphKind::space},
    {"\xE2\x80\x88", GlyphKind::space},  {"\xE2\x80\x89", GlyphKind::space},
    {"\xE2\x80\x8A", GlyphKind::space},  {"\xE2\x80\x8B", GlyphKind::space},  // zero width
    {"\xE2\x80\xAF", GlyphKind::space},  {"\xE3\x80\x80", GlyphKind::space},
    {"\xEF\xBB\xBF", GlyphKind::space},                                         // BOM
    {"\xE2\x80\x90", GlyphKind::dash},   {"\xE2\x80\x91", GlyphKind::dash},   // hyphen, nb hyphen
    {"\xE2\x80\x92", GlyphKind::dash},   {"\xE2\x80\x93", GlyphKind::dash},   // figure, en dash
    {"\xE2\x80\x94", GlyphKind::dash},   {"\xE2\x88\x92", GlyphKind::dash},   // em dash, minus
    {"\xC3\x97", GlyphKind::times},                                             // ×
    {"\xE2\x80\x98", GlyphKind::punct},  {"\xE2\x80\x99", GlyphKind::punct},  // quotes
    {"\xE2\x80\x9C", GlyphKind::punct},  {"\xE2\x80\x9D", GlyphKind::punct},
    {"\xC2\xAB", GlyphKind::punct},      {"\xC2\xBB", GlyphKind::punct},
    {"\xE2\x80\xA2", GlyphKind::punct},  {"\xE2\x80\xA6", GlyphKind::punct},  // bullet, ellipsis
    {"\xC2\xB7", GlyphKind::punct},      {"\xC2\xA7", GlyphKind::punct},      // middle dot, §
    {"\xC2\xB0", GlyphKind::punct},      {"\xE2\x86\x92", GlyphKind::punct},  // °, →
    {"\xE2\x80\xBA", GlyphKind::punct},  {"\xE2\x80\xB9", GlyphKind::punct},
    {"\xC2\xAE", GlyphKind::punct},      {"\xC2\xA9", GlyphKind::punct},      // (R), (C)
    {"\xE2\x84\xA2", GlyphKind::punct},  {"\xC2\xAD", GlyphKind::punct},     // TM, soft hyphen
    {"\xE2\x89\xA4", GlyphKind::punct},  {"\xE2\x89\xA5", GlyphKind::punct},  // <= >=
});

const Glyph* glyph_at(std::string_view t, std::size_t i) {
  if (i >= t.size() || static_cast<unsigned char>(t[i]) < 0x80) return nullptr;
  for (const Glyph& g : kGlyphs) {
    if (t.substr(i, g.bytes.size()) == g.bytes) return &g;
  }
  return nullptr;
}

// Glyph that ends exactly at `end`.
const Glyph* glyph_before(std::string_view t, std::size_t end) {
  for (const Glyph& g : kGlyphs) {
    if (end >= g.bytes.size() && t.substr(end - g.bytes.size(), g.bytes.size()) == g.bytes) return &g;
  }
  return nullptr;
}

// ------------------------------------------------------------------------------------------------
// Text cursor helpers over one source

// Plain-text (and HTML-derived, tab-separated) tables: a header row naming a "Mod", "Units" or
// "Dx" column ties the cell in that column to the code in the same row.
struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
};
struct TableRow {
  Span line;
  std::optional<Span> mod_cell;
  std::optional<Span> units_cell;
  std::vector<Span> dx_cells;
  std::vector<Span> other_cells;  // cells of columns that are neither Mod nor Units
};
struct TableInfo {
  std::vector<TableRow> rows;  // sorted by line.begin
  const TableRow* row_of(std::size_t pos) const {
    auto it = std::upper_bound(rows.begin(), rows.end(), pos,
                               [](std::size_t p, const TableRow& r) { return p < r.line.begin; });
    if (it == rows.begin()) return nullptr;
    --it;
    return pos < it->line.end ? &*it : nullptr;
  }
  bool in_dx_cell(std::size_t pos) const {
    const TableRow* r = row_of(pos);
    if (!r) return false;
    for (const Span& c : r->dx_cells) {
      if (pos >= c.begin && pos < c.end) return true;
    }
    return false;
  }
};

class Scanner {
 public:
  explicit Scanner(std::string_view text, const TableInfo* tables = nullptr) : t_(text), tables_(tables) {}
  const TableInfo* tables() const { return tables_; }

  std::string_view text() const { return t_; }
  std::size_t size() const { return t_.size(); }
  char at(std::size_t i) const { return i < t_.size() ? t_[i] : '\0'; }

  // Is the character starting at i a word character (ASCII alnum, '_', or unknown non-ASCII)?
  bool word_at(std::size_t i) const {
    if (i >= t_.size()) return false;
    char c = t_[i];
    if (static_cast<unsigned char>(c) < 0x80) return is_alnum(c) || c == '_';
    return glyph_at(t_, i) == nullptr;
  }

  // Is the character ending at `end` a word character?
  bool word_before(std::size_t end) const {
    if (end == 0 || end > t_.size()) return false;
    char c = t_[end - 1];
    if (static_cast<unsigned char>(c) < 0x80) return is_alnum(c) || c == '_';
    return glyph_before(t_, end) == nullptr;
  }

  std::size_t alnum_end(std::size_t i) const {
    while (i < t_.size() && is_alnum(t_[i])) ++i;
    return i;
  }

  std::size_t alnum_begin(std::size_t end) const {
    while (end > 0 && is_alnum(t_[end - 1])) --end;
    return end;
  }

  std::size_t dash_len(std::size_t i) const {
    if (at(i) == '-') return 1;
    const Glyph* g = glyph_at(t_, i);
    return g && g->kind == GlyphKind::dash ? g->bytes.size() : 0;
  }

  std::size_t dash_len_before(std::size_t end) const {
    if (end > 0 && t_[end - 1] == '-') return 1;
    const Glyph* g = glyph_before(t_, end);
    return g && g->kind == GlyphKind::dash ? g->bytes.size() : 0;
  }

  std::size_t times_len(std::size_t i) const {
    if (at(i) == 'x' || at(i) == 'X') return 1;
    const Glyph* g = glyph_at(t_, i);
    return g && g->kind == GlyphKind::times ? g->bytes.size() : 0;
  }

  std::size_t hspace_len(std::size_t i) const {
    if (at(i) == ' ' || at(i) == '\t') return 1;
    const Glyph* g = glyph_at(t_, i);
    return g && g->kind == GlyphKind::space ? g->bytes.size() : 0;
  }

  // Skips horizontal white space (never a line break); at most `max` characters.
  std::size_t skip_hspace(std::size_t i, std::size_t max = SIZE_MAX) const {
    for (std::size_t n = 0; n < max; ++n) {
      std::size_t len = hspace_len(i);
      if (len == 0) break;
      i += len;
    }
    return i;
  }

  std::size_t skip_hspace_back(std::size_t end) const {
    while (end > 0) {
      if (t_[end - 1] == ' ' || t_[end - 1] == '\t') {
        --end;
        continue;
      }
      const Glyph* g = glyph_before(t_, end);
      if (g && g->kind == GlyphKind::space) {
        end -= g->bytes.size();
        continue;
      }
      break;
    }
    return end;
  }

  // Case-insensitive match of an ASCII word at i, bounded on the right.
  bool word_is(std::size_t i, std::string_view lower_word) const {
    if (i + lower_word.size() > t_.size()) return false;
    for (std::size_t k = 0; k < lower_word.size(); ++k) {
      if (to_lower(t_[i + k]) != lower_word[k]) return false;
    }
    return !word_at(i + lower_word.size());
  }

 private:
  std::string_view t_;
  const TableInfo* tables_ = nullptr;
};

// ------------------------------------------------------------------------------------------------
// Code families. Each matcher looks at position s (start of an ASCII alnum run not glued to a
// previous word character) and returns the normalised code and its end when a code of that
// family's shape starts there and is bounded on the right.

struct Match {
  Match(std::string c, CodeSystem sys, std::size_t e) : code(std::move(c)), system(sys), end(e) {}
  std::string code;
  CodeSystem system = CodeSystem::cpt;
  std::size_t end = 0;
  bool needs_neighbor = false;            // kept only next to another code (see scan_source)
  std::vector<std::string> alternatives;  // other readings, "SYSTEM:CODE"
};

std::optional<Match> match_icd10cm_dotted(const Scanner& sc, std::size_t s) {
  // Letter, digit, digit/letter, '.', 1-4 alphanumerics: M54.50, S72.001A, T81.4XXA, Z3A.39.
  std::size_t e = sc.alnum_end(s);
  if (e - s != 3 || sc.at(e) != '.') return std::nullopt;
  std::string head = upper(sc.text().substr(s, 3));
  if (!is_upper(head[0]) || contains(kNotDiagnoses, head)) return std::nullopt;
  bool regular = is_digit(head[1]) && is_digit(head[2]);
  if (!regular && !contains(kIcdLetterCategories, head)) return std::nullopt;
  std::size_t tail_end = sc.alnum_end(e + 1);
  std::size_t tail_len = tail_end - (e + 1);
  if (tail_len < 1 || tail_len > 4 || sc.word_at(tail_end)) return std::nullopt;
  // "M54.50.1" is a version-like number, not a code.
  if (sc.at(tail_end) == '.' && is_alnum(sc.at(tail_end + 1))) return std::nullopt;
  std::string tail = upper(sc.text().substr(e + 1, tail_len));
  // The extension holds digits, or starts with the placeholder X (W19.XXXA).
  if (!has_digit(tail) && tail[0] != 'X') return std::nullopt;
  return Match{head + "." + tail, CodeSystem::icd10cm, tail_end};
}

bool is_icd_category(std::string_view head) {
  if (head.size() != 3 || !is_upper(head[0])) return false;
  return (is_digit(head[1]) && is_digit(head[2])) || contains(kIcdLetterCategories, head);
}

enum class DxEvidence { none, neighbor, cue };

// Is the token [s, e) an item of a diagnosis list? "Dx: E11.65, I10, Z79.84" (cue),
// "dx m5450, g8929", "Other chronic: I10, E78.5" (a dotted diagnosis next to it).
DxEvidence diagnosis_list_evidence(const Scanner& sc, std::size_t s, std::size_t e) {
  auto is_sep = [](char c) {
    return c == ' ' || c == '\t' || c == ',' || c == ';' || c == ':' || c == '/' || c == '&' ||
           c == '(' || c == ')' || c == '+';
  };
  // "Dx for that part: R42" -- a cue earlier in the clause that ends with the colon.
  auto cue_in_clause = [&](std::size_t colon) {
    std::size_t b = colon;
    while (b > 0 && colon - b < 48) {
      char c = sc.at(b - 1);
      if (c == '.' || c == '\n' || c == '\r' || c == '!' || c == '?' || c == ';') break;
      --b;
    }
    for (std::size_t i = b; i < colon; ++i) {
      if (is_alpha(sc.at(i)) && (i == 0 || !is_alnum(sc.at(i - 1)))) {
        std::size_t we = sc.alnum_end(i);
        if (contains(kDiagnosisCues, lower(sc.text().substr(i, we - i)))) return true;
        i = we;
      }
    }
    return false;
  };
  if (sc.tables() && sc.tables()->in_dx_cell(s)) return DxEvidence::cue;
  std::size_t pos = s;
  for (int items = 0; items < 8; ++items) {
    std::size_t q = pos;
    std::optional<std::size_t> colon;
    while (q > 0 && is_sep(sc.at(q - 1))) {
      if (sc.at(q - 1) == ':') colon = q - 1;
      --q;
    }
    if (q == 0 || q == pos || !is_alnum(sc.at(q - 1))) break;
    std::size_t b = sc.alnum_begin(q);
    std::string w = lower(sc.text().substr(b, q - b));
    if (contains(kDiagnosisCues, w)) return DxEvidence::cue;
    if (colon && cue_in_clause(*colon)) return DxEvidence::cue;
    if ((w == "10" || w == "cm") && b >= 4) {  // ICD-10, ICD-10-CM
      std::string before = lower(sc.text().substr(b >= 8 ? b - 8 : 0, b >= 8 ? 8 : b));
      if (before.find("icd") != std::string::npos) return DxEvidence::cue;
    }
    if (b >= 4 && sc.at(b - 1) == '.') {  // extension of a dotted code
      auto m = match_icd10cm_dotted(sc, sc.alnum_begin(b - 1));
      if (m && m->end == q) return DxEvidence::neighbor;
      break;
    }
    if (w == "and" || w == "or") {
      pos = b;
      continue;
    }
    // another undotted diagnosis-like item: letter, digit, 1-5 more
    if (w.size() >= 3 && w.size() <= 7 && is_alpha(w[0]) && is_digit(w[1])) {
      pos = b;
      continue;
    }
    break;
  }
  // The next list item is a dotted diagnosis.
  std::size_t q = e;
  for (int k = 0; k < 3; ++k) {
    while (q < sc.size() && (sc.at(q) == ' ' || sc.at(q) == '\t' || sc.at(q) == ',' || sc.at(q) == ';' ||
                             sc.at(q) == '/')) {
      ++q;
    }
    if (sc.word_is(q, "and")) q += 3;
    else if (sc.word_is(q, "or")) q += 2;
    else break;
  }
  if (q > e && q < sc.size() && is_alpha(sc.at(q)) && match_icd10cm_dotted(sc, q)) return DxEvidence::neighbor;
  return DxEvidence::none;
}

// Undotted or 3-character diagnoses, only inside a diagnosis list: I10, Z23, m5450 -> M54.50.
std::optional<Match> match_icd10cm_in_diagnosis_list(const Scanner& sc, std::size_t s) {
  std::size_t e = sc.alnum_end(s);
  std::size_t len = e - s;
  if (len < 3 || len > 7 || sc.word_at(e)) return std::nullopt;
  // dotted forms are another family; "T12-L1", "V28/V24" are not list items of this kind
  if ((sc.at(e) == '.' || sc.at(e) == '/') && is_alnum(sc.at(e + 1))) return std::nullopt;
  if (std::size_t d = sc.dash_len(e); d && is_alnum(sc.at(e + d))) return std::nullopt;
  std::string tok = upper(sc.text().substr(s, len));
  std::string head = tok.substr(0, 3);
  std::string tail = tok.substr(3);
  if (!is_icd_category(head) || contains(kNotDiagnoses, tok)) return std::nullopt;
  if (!tail.empty() && !has_digit(tail) && tail[0] != 'X') return std::nullopt;
  DxEvidence ev = diagnosis_list_evidence(sc, s, e);
  if (ev == DxEvidence::none) return std::nullopt;
  // A HCPCS-shaped token (J3301) needs an explicit diagnosis cue, not just a neighbour.
  bool hcpcs_shaped = len == 5 && kHcpcsLetters.find(tok[0]) != std::string_view::npos && all_digits(tail) &&
                      is_digit(tok[2]);
  if (hcpcs_shaped && ev != DxEvidence::cue) return std::nullopt;
  Match m{tail.empty() ? head : head + "." + tail, CodeSystem::icd10cm, e};
  if (hcpcs_shaped && is_ambiguous_hcpcs_icd(tok)) m.alternatives.push_back("HCPCS:" + tok);
  return m;
}

// "syncope (R55)", "prostate cancer (C61)": an upper-case diagnosis shape alone in parentheses right
// after a lower-case word. Kept only when another code is written nearby (scan_source).
std::optional<Match> match_icd10cm_after_condition(const Scanner& sc, std::size_t s) {
  if (s < 3 || sc.at(s - 1) != '(') return std::nullopt;
  std::size_t e = sc.alnum_end(s);
  std::size_t len = e - s;
  if (len < 3 || len > 7 || sc.at(e) != ')') return std::nullopt;
  std::string_view raw = sc.text().substr(s, len);
  if (std::any_of(raw.begin(), raw.end(), is_lower)) return std::nullopt;
  std::string tok(raw);
  std::string head = tok.substr(0, 3);
  std::string tail = tok.substr(3);
  if (!is_icd_category(head) || contains(kNotDiagnoses, tok) || contains(kNotDiagnoses, head)) return std::nullopt;
  if (!tail.empty() && !has_digit(tail) && tail[0] != 'X') return std::nullopt;
  // letter + 4 digits is a HCPCS shape: that family decides
  if (len == 5 && all_digits(tok.substr(1))) return std::nullopt;
  std::size_t w = sc.skip_hspace_back(s - 1);
  if (w == s - 1) return std::nullopt;
  std::size_t wb = sc.alnum_begin(w);
  std::string_view word = sc.text().substr(wb, w - wb);
  if (word.size() < 3 || !std::all_of(word.begin(), word.end(), is_lower) || sc.word_before(wb)) return std::nullopt;
  Match m{tail.empty() ? head : head + "." + tail, CodeSystem::icd10cm, e};
  m.needs_neighbor = true;
  return m;
}

// ICD-10-PCS: 7 characters of 0-9 A-H J-N P-Z, only after a "PCS" cue in the same clause
// ("ICD-10-PCS 0SRC0J9", "PCS: 0SRC0J9, 0SRD0J9").
bool is_pcs_char(char c) { return is_digit(c) || (is_upper(c) && c != 'I' && c != 'O'); }

std::optional<Match> match_icd10pcs(const Scanner& sc, std::size_t s) {
  std::size_t e = sc.alnum_end(s);
  if (e - s != 7 || sc.word_at(e)) return std::nullopt;
  std::string_view raw = sc.text().substr(s, 7);
  if (!std::all_of(raw.begin(), raw.end(), is_pcs_char) || !has_digit(raw)) return std::nullopt;
  if (sc.at(e) == '-' || (sc.at(e) == '.' && is_alnum(sc.at(e + 1)))) return std::nullopt;
  std::size_t b = s;
  while (b > 0 && s - b < 80) {
    char c = sc.at(b - 1);
    if (c == '\n' || c == '.' || c == '?' || c == '!' || c == ';') break;
    --b;
  }
  for (std::size_t i = b; i < s; ++i) {
    if (is_alpha(sc.at(i)) && (i == 0 || !is_alnum(sc.at(i - 1)))) {
      std::size_t we = sc.alnum_end(i);
      if (lower(sc.text().substr(i, we - i)) == "pcs") return Match{std::string(raw), CodeSystem::icd10pcs, e};
      i = we;
    }
  }
  return std::nullopt;
}

// A 5-character code is bounded on the right, or glued only to a units suffix ("99213x2").
bool five_char_code_end_ok(const Scanner& sc, std::size_t s, std::size_t e) {
  if (e - s == 5) return !sc.word_at(e);
  std::size_t x = s + 5;
  if (e - x < 2 || e - x > 4 || (sc.at(x) != 'x' && sc.at(x) != 'X')) return false;
  return all_digits(sc.text().substr(x + 1, e - x - 1)) && !sc.word_at(e);
}

std::optional<Match> match_cpt(const Scanner& sc, std::size_t s) {
  std::size_t e = sc.alnum_end(s);
  if (!five_char_code_end_ok(sc, s, e)) return std::nullopt;
  e = s + 5;
  std::string_view w = sc.text().substr(s, 5);
  if (!all_digits(w.substr(0, 4))) return std::nullopt;
  char last = to_upper(w[4]);
  // Category I (incl. anesthesia 00100-01999): 5 digits. Category II: dddd F. Category III: dddd T.
  // Proprietary laboratory analyses (Category I): 0ddd U.
  if (is_digit(last) || last == 'F' || last == 'T' || (last == 'U' && w[0] == '0')) {
    return Match{upper(w), CodeSystem::cpt, e};
  }
  return std::nullopt;
}

std::optional<Match> match_hcpcs(const Scanner& sc, std::size_t s) {
  std::size_t e = sc.alnum_end(s);
  if (!five_char_code_end_ok(sc, s, e)) return std::nullopt;
  e = s + 5;
  std::string_view w = sc.text().substr(s, 5);
  if (!is_alpha(w[0]) || kHcpcsLetters.find(to_upper(w[0])) == std::string_view::npos) {
    return std::nullopt;
  }
  if (!all_digits(w.substr(1))) return std::nullopt;
  return Match{upper(w), CodeSystem::hcpcs, e};
}

struct Family {
  std::string_view name;
  bool takes_modifiers;  // procedure codes carry modifiers and units; diagnoses do not
  std::optional<Match> (*match)(const Scanner&, std::size_t);
};

// Tried in order; the first match wins.
constexpr std::array kFamilies = std::to_array<Family>({
    {"ICD-10-CM (dotted)", false, match_icd10cm_dotted},
    {"ICD-10-CM (diagnosis list, undotted)", false, match_icd10cm_in_diagnosis_list},
    {"ICD-10-CM (in parentheses after a condition)", false, match_icd10cm_after_condition},
    {"ICD-10-PCS (after a PCS cue)", false, match_icd10pcs},
    {"CPT (Category I/II/III)", true, match_cpt},
    {"HCPCS Level II", true, match_hcpcs},
});

struct Candidate {
  Match match;
  const Family* family = nullptr;
};

std::optional<Candidate> match_any(const Scanner& sc, std::size_t s) {
  for (const Family& f : kFamilies) {
    if (auto m = f.match(sc, s)) return Candidate{std::move(*m), &f};
  }
  return std::nullopt;
}

// ------------------------------------------------------------------------------------------------
// Context checks

// The whitespace-delimited chunk around [s, e) is a URL, e-mail address or key=value.
bool inside_url_or_address(const Scanner& sc, std::size_t s, std::size_t e) {
  auto is_ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t b = s;
  while (b > 0 && !is_ws(sc.at(b - 1)) && s - b < 256) --b;
  std::size_t f = e;
  while (f < sc.size() && !is_ws(sc.at(f)) && f - e < 256) ++f;
  std::string_view chunk = sc.text().substr(b, f - b);
  return chunk.find("://") != std::string_view::npos || chunk.find('@') != std::string_view::npos ||
         chunk.find('=') != std::string_view::npos || chunk.find("www.") != std::string_view::npos;
}

struct PrevWord {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string_view between;  // text between the word and the following position
};

// The ASCII alnum word before `pos` on the same line, at most `max_gap` bytes of
// non-word characters away.
std::optional<PrevWord> previous_word(const Scanner& sc, std::size_t pos, std::size_t max_gap = 6) {
  std::size_t e = pos;
  while (e > 0 && pos - e <= max_gap) {
    char c = sc.at(e - 1);
    if (c == '\n' || c == '\r') return std::nullopt;
    if (is_alnum(c)) break;
    if (static_cast<unsigned char>(c) >= 0x80 && sc.word_before(e)) return std::nullopt;
    --e;
  }
  if (e == 0 || !is_alnum(sc.at(e - 1)) || pos - e > max_gap) return std::nullopt;
  std::size_t b = sc.alnum_begin(e);
  return PrevWord{b, e, sc.text().substr(e, pos - e)};
}

bool is_capitalized_word(std::string_view w) {
  return w.size() >= 2 && is_upper(w[0]) && std::all_of(w.begin() + 1, w.end(), is_lower);
}

// "Houston TX 77027", "Spokane, WA 99204", "Boise ID 83702".
bool follows_state_abbreviation(const Scanner& sc, std::size_t s) {
  std::size_t e = sc.skip_hspace_back(s);
  if (e == s || e < 2) return false;
  std::size_t b = sc.alnum_begin(e);
  std::string_view st = sc.text().substr(b, e - b);
  if (st.size() != 2 || !is_upper(st[0]) || !is_upper(st[1]) || !contains(kStates, st)) return false;
  std::size_t before = sc.skip_hspace_back(b);
  if (before > 0 && sc.at(before - 1) == ',') return true;
  if (before == b) return false;  // glued to something
  std::size_t wb = sc.alnum_begin(before);
  return is_capitalized_word(sc.text().substr(wb, before - wb));
}

bool rejected_by_label(const Scanner& sc, std::size_t s, bool dotted) {
  auto prev = previous_word(sc, s);
  bool marker = false;
  for (int hops = 0; prev && hops < 3; ++hops) {
    if (prev->between.find('#') != std::string_view::npos) marker = true;
    std::string_view raw = sc.text().substr(prev->begin, prev->end - prev->begin);
    std::string w = lower(raw);
    if (contains(kLabelFillers, w)) {
      if (contains(kLabelMarkers, w)) marker = true;
      prev = previous_word(sc, prev->begin);
      continue;
    }
    if (w == "code") {  // "zip code 60614", "postal code"
      auto before = previous_word(sc, prev->begin, 2);
      if (before) {
        std::string b = lower(sc.text().substr(before->begin, before->end - before->begin));
        if (b == "zip" || b == "postal") return true;
      }
      return false;
    }
    for (const Label& label : kLabels) {
      if (label.word != w || (dotted && !label.applies_to_dotted)) continue;
      switch (label.strength) {
        case LabelStrength::strong: return true;
        case LabelStrength::capital_or_marker: return marker || is_upper(raw[0]);
        case LabelStrength::marker_only: return marker;
      }
    }
    return false;
  }
  return false;
}

// "12707 E Mission Ave", "4400 Post Oak Pkwy": a house number, not a code.
bool street_address_follows(const Scanner& sc, std::size_t e) {
  std::size_t pos = e;
  for (int k = 0; k < 5; ++k) {
    std::size_t w = sc.skip_hspace(pos, 2);
    if (w == pos) return false;
    std::size_t we = sc.alnum_end(w);
    if (we == w) return false;
    std::string_view word = sc.text().substr(w, we - w);
    std::string lw = lower(word);
    bool capital = is_upper(word[0]) || is_digit(word[0]);
    if (!capital) return false;
    if (k > 0 && contains(kStreetSuffixes, lw)) return true;
    if (!(contains(kDirections, lw) || is_alpha(word[0]) || (has_digit(word) && word.size() <= 4))) {
      return false;
    }
    pos = we;
    if (sc.at(pos) == '.') ++pos;
  }
  return false;
}

// "12345 USD", "12345 dollars".
bool currency_follows(const Scanner& sc, std::size_t e) {
  std::size_t w = sc.skip_hspace(e, 1);
  return sc.word_is(w, "usd") || sc.word_is(w, "dollars");
}

// What is glued to the left of the candidate tells whether it is part of a larger token.
bool left_context_ok(const Scanner& sc, std::size_t s, const Candidate& cand) {
  if (s == 0) return true;
  char p = sc.at(s - 1);
  if (p == '$' || p == '#' || p == '@' || p == '&' || p == '%') return false;
  std::size_t dash = sc.dash_len_before(s);
  std::size_t joiner = dash ? dash : ((p == '.' || p == ':' || p == ',' || p == '/' || p == '\\') ? 1 : 0);
  if (joiner && s > joiner && is_alnum(sc.at(s - joiner - 1))) {
    std::size_t pe = s - joiner;
    std::string_view prev = sc.text().substr(sc.alnum_begin(pe), pe - sc.alnum_begin(pe));
    if (p == '/' || p == '\\') {
      // slash lists: "64483/64484", "w/99213"; a digit run before a slash is a date/fraction
      // unless it is itself a code ("M51.16/M51.17" ends in the extension "16").
      if (has_digit(prev) && prev.size() < 5 && sc.at(sc.alnum_begin(pe) - 1) != '.') return false;
    } else if (dash) {
      // "2024-118842", "00409-7338-01" are identifiers; ranges are read from their start, so a
      // code glued to a code here is a reversed pair ("99214-99213").
      std::size_t pb = sc.alnum_begin(pe);
      bool prev_is_code = prev.size() == 5 && !sc.word_before(pb) && match_any(sc, pb).has_value();
      if (has_digit(prev) && !prev_is_code) return false;
    } else if (p == '.') {
      if (has_digit(prev) || prev.size() == 1) return false;  // "1.99213", "v.12345"
    } else if (p == ':') {
      if (has_digit(prev)) return false;  // times
    } else if (p == ',') {
      if (all_digits(prev) && prev.size() <= 3) return false;  // "1,23456"
    }
  }
  bool dotted = cand.match.system == CodeSystem::icd10cm;
  if (rejected_by_label(sc, s, dotted)) return false;
  if (cand.match.system == CodeSystem::cpt && all_digits(cand.match.code) &&
      (follows_state_abbreviation(sc, s) || street_address_follows(sc, cand.match.end) ||
       currency_follows(sc, cand.match.end))) {
    return false;
  }
  return true;
}

// What is glued to the right of the code's end.
bool right_context_ok(const Scanner& sc, std::size_t e) {
  char c = sc.at(e);
  char n = sc.at(e + 1);
  if ((c == '.' || c == ':') && is_digit(n)) return false;  // "12345.00", "12345:12"
  if (c == '%' || c == '@') return false;
  if (c == ',' && is_digit(n) && is_digit(sc.at(e + 2)) && is_digit(sc.at(e + 3)) &&
      !is_digit(sc.at(e + 4))) {
    return false;  // "12345,678"
  }
  return true;
}

// ------------------------------------------------------------------------------------------------
// Suffixes: ranges, modifiers, units

struct RawMention {
  std::string code;
  CodeSystem system = CodeSystem::cpt;
  std::size_t start = 0;
  std::size_t end = 0;
  std::vector<std::string> modifiers;
  std::optional<int> units;
  std::optional<std::string> range_end;
  std::vector<std::string> alternatives;
  bool needs_neighbor = false;
  std::size_t consumed_end = 0;  // end of the code and everything read after it
};

void add_modifier(std::vector<std::string>& mods, std::string m) {
  if (std::find(mods.begin(), mods.end(), m) == mods.end()) mods.push_back(std::move(m));
}

// A bounded two-character token at i that is a known modifier (case-insensitive unless
// `uppercase_only`). Returns its end.
std::optional<std::size_t> modifier_at(const Scanner& sc, std::size_t i, bool uppercase_only) {
  if (i > 0 && sc.word_before(i)) return std::nullopt;
  std::size_t e = sc.alnum_end(i);
  if (e - i != 2 || sc.word_at(e)) return std::nullopt;
  std::string_view tok = sc.text().substr(i, 2);
  if (uppercase_only && (is_lower(tok[0]) || is_lower(tok[1]))) return std::nullopt;
  if (!is_known_modifier(upper(tok))) return std::nullopt;
  return e;
}

// Does what follows a spaced modifier look like a quantity, date or measurement ("99214 25 min",
// "99213 12/25", "25%")?
bool quantity_follows(const Scanner& sc, std::size_t e) {
  char c = sc.at(e);
  if (c == '%' || ((c == '/' || c == '.' || c == ':' || c == '-' || c == ',') && is_digit(sc.at(e + 1)))) {
    return true;
  }
  std::size_t w = sc.skip_hspace(e);
  std::size_t we = sc.alnum_end(w);
  if (we == w) return false;
  return contains(kQuantityWords, lower(sc.text().substr(w, we - w)));
}

// "99202-99215", "98000–98015", "99202 - 99205": same family, end after start.
std::optional<std::pair<std::string, std::size_t>> parse_range(const Scanner& sc, std::size_t p,
                                                               const Candidate& cand) {
  std::size_t q = sc.skip_hspace(p, 1);
  std::size_t d = sc.dash_len(q);
  if (d == 0) return std::nullopt;
  std::size_t r = sc.skip_hspace(q + d, 1);
  if ((q != p) != (r != q + d)) return std::nullopt;  // "99202 -99215" is odd; require symmetry
  if (!is_alnum(sc.at(r))) return std::nullopt;
  auto m = cand.family->match(sc, r);
  if (!m || m->system != cand.match.system || m->code.size() != cand.match.code.size()) return std::nullopt;
  if (m->code <= cand.match.code) return std::nullopt;
  if (!right_context_ok(sc, m->end)) return std::nullopt;
  return std::make_pair(m->code, m->end);
}

// Further modifiers glued to a first one: "-RT-XS", "-LT/RT", " RT,LT". Returns the new end.
std::size_t read_modifier_chain(const Scanner& sc, std::size_t pos, std::vector<std::string>& mods) {
  for (int n = 0; n < 8; ++n) {
    std::size_t sep = sc.dash_len(pos);
    if (sep == 0 && (sc.at(pos) == '/' || sc.at(pos) == ',')) sep = 1;
    if (sep == 0) break;
    auto next = modifier_at(sc, pos + sep, false);
    if (!next) break;
    add_modifier(mods, upper(sc.text().substr(pos + sep, 2)));
    pos = *next;
  }
  return pos;
}

// "-50", " -50", "–50", " - 50", "-RT-XS", "-LT/RT". Returns the new position or nullopt.
std::optional<std::size_t> parse_dash_modifiers(const Scanner& sc, std::size_t p,
                                                std::vector<std::string>& mods) {
  std::size_t q = sc.skip_hspace(p, 1);
  std::size_t d = sc.dash_len(q);
  if (d == 0) return std::nullopt;
  std::size_t r = q + d;
  if (q != p) {  // " - 50": spaced on both sides, known modifier not followed by a quantity
    std::size_t r2 = sc.skip_hspace(r, 1);
    if (r2 != r) {
      auto e = modifier_at(sc, r2, true);
      if (!e || quantity_follows(sc, *e)) return std::nullopt;
      r = r2;
    }
  }
  auto e = modifier_at(sc, r, false);
  if (!e) return std::nullopt;
  add_modifier(mods, upper(sc.text().substr(r, 2)));
  return read_modifier_chain(sc, *e, mods);
}

// A run of 1-3 digits at i, bounded; returns (value, end).
std::optional<std::pair<int, std::size_t>> small_number_at(const Scanner& sc, std::size_t i) {
  if (!is_digit(sc.at(i))) return std::nullopt;
  std::size_t e = i;
  int v = 0;
  while (e < sc.size() && is_digit(sc.at(e)) && e - i < 4) {
    v = v * 10 + (sc.at(e) - '0');
    ++e;
  }
  if (e - i > 3 || sc.word_at(e)) return std::nullopt;
  if ((sc.at(e) == '.' || sc.at(e) == ',' || sc.at(e) == '/' || sc.at(e) == ':') && is_digit(sc.at(e + 1))) {
    return std::nullopt;
  }
  return std::make_pair(v, e);
}

// "x2", "x 2", "×2", "2 units", "(2 units)", "(x2)". Returns the new position or nullopt.
std::optional<std::size_t> parse_units(const Scanner& sc, std::size_t p, std::optional<int>& units) {
  std::size_t q = sc.skip_hspace(p);
  bool paren = sc.at(q) == '(';
  if (paren) q = sc.skip_hspace(q + 1);
  std::optional<std::pair<int, std::size_t>> num;
  if (std::size_t tl = sc.times_len(q)) {
    num = small_number_at(sc, sc.skip_hspace(q + tl, 1));
    if (num) {  // "x200 units"
      std::size_t w = sc.skip_hspace(num->second, 1);
      if (sc.word_is(w, "units")) num->second = w + 5;
      else if (sc.word_is(w, "unit")) num->second = w + 4;
    }
  } else if (sc.word_is(q, "units") || sc.word_is(q, "unit") || sc.word_is(q, "qty")) {
    // "units: 2", "units 2", "qty 2"
    std::size_t k = sc.alnum_end(q);
    if (sc.at(k) == ':' || sc.at(k) == '=') ++k;
    num = small_number_at(sc, sc.skip_hspace(k, 2));
  } else if (auto n = small_number_at(sc, q)) {
    std::size_t w = sc.skip_hspace(n->second, 1);
    if (sc.word_is(w, "units")) {
      num = std::make_pair(n->first, w + 5);
    } else if (sc.word_is(w, "unit")) {
      num = std::make_pair(n->first, w + 4);
    }
  }
  if (!num) return std::nullopt;
  units = num->first;
  std::size_t end = num->second;
  if (paren) {
    std::size_t c = sc.skip_hspace(end);
    if (sc.at(c) == ')') end = c + 1;
  }
  return end;
}

// "mod 50", "modifier 25", "modifiers 59 and XU", "w/ modifier -25", "with JZ", "(mod RT)".
// Verbs that tie a following modifier to the code: "does 17003 need a 59", "L1833 carry GA".
constexpr std::string_view kModifierVerbs =
    "with need needs carry carries get gets take takes require requires append add";

std::optional<std::size_t> parse_keyword_modifiers(const Scanner& sc, std::size_t p,
                                                   std::vector<std::string>& mods, bool code_in_list) {
  std::size_t q = sc.skip_hspace(p);
  if (q == p && sc.at(q) != '(') return std::nullopt;
  bool paren = sc.at(q) == '(';
  if (paren) q = sc.skip_hspace(q + 1);
  bool with = false;
  std::size_t we = sc.alnum_end(q);
  if (we > q && contains(kModifierVerbs, lower(sc.text().substr(q, we - q))) && !sc.word_at(we)) {
    with = true;
    q = sc.skip_hspace(we);
  } else if ((sc.at(q) == 'w' || sc.at(q) == 'W') && sc.at(q + 1) == '/') {
    with = true;
    q = sc.skip_hspace(q + 2);
  }
  if (with) {
    for (std::string_view article : {"a", "an", "the"}) {
      if (sc.word_is(q, article)) {
        q = sc.skip_hspace(q + article.size());
        break;
      }
    }
  }
  bool keyword = false;
  for (std::string_view kw : {"modifiers", "modifier", "mods", "mod"}) {
    if (sc.word_is(q, kw)) {
      keyword = true;
      q += kw.size();
      if (sc.at(q) == '.' || sc.at(q) == ':') ++q;
      q = sc.skip_hspace(q);
      break;
    }
  }
  if (!keyword && !with) {
    // "64635 (50)", "99213 (-25)": a lone modifier in parentheses
    if (!paren) return std::nullopt;
    std::size_t d = sc.dash_len(q);
    auto e = modifier_at(sc, q + d, false);
    if (!e || sc.at(*e) != ')') return std::nullopt;
    add_modifier(mods, upper(sc.text().substr(q + d, 2)));
    return *e + 1;
  }
  // "L1833, L3908, L4361 with GA/KX": which code is meant is unclear; leave it unattached.
  if (!keyword && code_in_list) return std::nullopt;
  std::vector<std::string> found;
  std::size_t pos = q;
  std::size_t end = p;
  for (int n = 0; n < 8; ++n) {
    std::size_t d = sc.dash_len(pos);
    auto e = modifier_at(sc, pos + d, !keyword);
    if (!e) break;
    if (quantity_follows(sc, *e)) break;
    found.push_back(upper(sc.text().substr(pos + d, 2)));
    end = *e;
    // separators: ", " "/" " and " " & " "+"
    std::size_t s = sc.skip_hspace(end);
    if (sc.at(s) == ',' || sc.at(s) == '/' || sc.at(s) == '&' || sc.at(s) == '+') {
      s = sc.skip_hspace(s + 1);
    } else if (sc.word_is(s, "and")) {
      s = sc.skip_hspace(s + 3);
    } else if (sc.word_is(s, "or")) {
      s = sc.skip_hspace(s + 2);
    }
    pos = s;
  }
  if (found.empty()) return std::nullopt;
  for (auto& m : found) add_modifier(mods, std::move(m));
  if (paren) {
    std::size_t c = sc.skip_hspace(end);
    if (sc.at(c) == ')') end = c + 1;
  }
  return end;
}

// "11042 59", "E0601 RR KX", table columns "99204    25    1": known modifiers only,
// upper case, not followed by a quantity word.
std::optional<std::size_t> parse_spaced_modifiers(const Scanner& sc, std::size_t p,
                                                  std::vector<std::string>& mods) {
  std::size_t q = sc.skip_hspace(p);
  if (q == p) return std::nullopt;
  if (sc.tables()) {
    if (const TableRow* row = sc.tables()->row_of(q)) {
      for (const Span& c : row->other_cells) {
        if (q >= c.begin && q < c.end && c.begin >= p) return std::nullopt;  // another column: not a modifier
      }
      if (row->units_cell && q >= row->units_cell->begin && q < row->units_cell->end) return std::nullopt;
    }
  }
  auto e = modifier_at(sc, q, true);
  if (!e || quantity_follows(sc, *e)) return std::nullopt;
  add_modifier(mods, std::string(sc.text().substr(q, 2)));
  return read_modifier_chain(sc, *e, mods);
}

// ------------------------------------------------------------------------------------------------
// Tables

enum class Column { other, mod, units, dx };

Column column_kind(std::string_view cell) {
  std::string c = lower(cell);
  while (!c.empty() && (c.back() == ':' || c.back() == '.')) c.pop_back();
  if (contains("mod mods modifier modifiers mod(s) modifier(s) mod1 modifier1", c)) return Column::mod;
  if (contains("units unit qty quantity units/qty qty/units", c)) return Column::units;
  for (std::string_view dx : {"dx", "dxs", "diagnosis", "diagnoses", "icd", "icd-10", "icd10", "icd-10-cm", "dx(s)",
                               "diagnosis(es)", "dx code", "dx codes", "diagnosis code", "diagnosis codes",
                               "icd-10 code", "icd-10 codes"}) {
    if (c == dx) return Column::dx;
  }
  return Column::other;
}

// Cells of one line: split on '|', else on tabs, else on runs of two or more spaces.
std::vector<Span> split_cells(std::string_view t, Span line, char& mode) {
  std::vector<Span> cells;
  std::string_view l = t.substr(line.begin, line.end - line.begin);
  mode = l.find('|') != std::string_view::npos ? '|' : l.find('\t') != std::string_view::npos ? '\t' : ' ';
  std::size_t i = 0;
  auto push = [&](std::size_t b, std::size_t e) {
    while (b < e && (l[b] == ' ' || l[b] == '\t')) ++b;
    while (e > b && (l[e - 1] == ' ' || l[e - 1] == '\t' || l[e - 1] == '\r')) --e;
    cells.push_back({line.begin + b, line.begin + e});
  };
  if (mode != ' ') {
    std::size_t b = 0;
    for (i = 0; i <= l.size(); ++i) {
      if (i == l.size() || l[i] == mode) {
        push(b, i);
        b = i + 1;
      }
    }
    if (mode == '|') {  // "| a | b |": drop the empty edge cells
      if (!cells.empty() && cells.front().begin == cells.front().end) cells.erase(cells.begin());
      if (!cells.empty() && cells.back().begin == cells.back().end) cells.pop_back();
    }
    return cells;
  }
  std::size_t b = 0;
  while (b < l.size() && l[b] == ' ') ++b;
  for (i = b; i < l.size();) {
    if (l[i] == ' ' && i + 1 < l.size() && l[i + 1] == ' ') {
      push(b, i);
      while (i < l.size() && l[i] == ' ') ++i;
      b = i;
    } else {
      ++i;
    }
  }
  if (b < l.size()) push(b, l.size());
  return cells;
}

TableInfo find_tables(std::string_view t) {
  TableInfo info;
  std::vector<Span> lines;
  for (std::size_t b = 0; b < t.size();) {
    std::size_t e = t.find('\n', b);
    if (e == std::string_view::npos) e = t.size();
    lines.push_back({b, e});
    b = e + 1;
  }
  for (std::size_t li = 0; li < lines.size(); ++li) {
    char mode = 0;
    std::vector<Span> header = split_cells(t, lines[li], mode);
    if (header.size() < 3 || header.size() > 16) continue;
    std::vector<Column> kinds;
    bool useful = false;
    for (const Span& c : header) {
      if (c.end - c.begin > 24) { useful = false; kinds.clear(); break; }
      kinds.push_back(column_kind(t.substr(c.begin, c.end - c.begin)));
      useful = useful || kinds.back() != Column::other;
    }
    if (!useful) continue;
    const std::size_t header_begin = lines[li].begin;
    std::size_t rows = 0;
    std::size_t last_row = li;
    int blanks = 0;
    for (std::size_t ri = li + 1; ri < lines.size() && rows < 200; ++ri) {
      std::string_view l = t.substr(lines[ri].begin, lines[ri].end - lines[ri].begin);
      if (l.find_first_not_of(" \t\r") == std::string_view::npos) {
        // A blank line ends a plain-text table; HTML-derived rows (tab cells) may be spaced out.
        if (mode == ' ' || ++blanks > 3) break;
        continue;
      }
      blanks = 0;
      if (l.find_first_not_of(" \t\r-=|+:") == std::string_view::npos) continue;  // rule line
      char rmode = 0;
      std::vector<Span> cells = split_cells(t, lines[ri], rmode);
      if (cells.size() < 2 || (rmode != mode && mode != ' ')) break;
      TableRow row;
      row.line = lines[ri];
      for (std::size_t ci = 0; ci < cells.size(); ++ci) {
        std::size_t k = ci;
        if (mode == ' ') {  // aligned columns: the header column where the cell starts
          std::size_t col = cells[ci].begin - lines[ri].begin;
          k = 0;
          for (std::size_t h = 0; h < header.size(); ++h) {
            if (header[h].begin - header_begin <= col + 1) k = h;
          }
        } else if (rmode != mode || cells.size() != header.size()) {
          k = SIZE_MAX;
        }
        Column kind = k < kinds.size() ? kinds[k] : Column::other;
        if (kind == Column::mod) row.mod_cell = cells[ci];
        else if (kind == Column::units) row.units_cell = cells[ci];
        else if (kind == Column::dx) row.dx_cells.push_back(cells[ci]);
        else row.other_cells.push_back(cells[ci]);
      }
      info.rows.push_back(std::move(row));
      ++rows;
      last_row = ri;
    }
    li = last_row;
  }
  return info;
}

// The modifiers of a Mod cell ("25", "RT, 59", "LT/XS") when every item is a known modifier.
std::vector<std::string> cell_modifiers(std::string_view cell) {
  std::vector<std::string> mods;
  std::size_t i = 0;
  while (i < cell.size()) {
    char c = cell[i];
    if (c == ' ' || c == ',' || c == '/' || c == '-' || c == ';' || c == '\t') {
      ++i;
      continue;
    }
    std::size_t e = i;
    while (e < cell.size() && is_alnum(cell[e])) ++e;
    std::string tok = upper(cell.substr(i, e - i));
    if (e == i || !is_known_modifier(tok)) return {};
    add_modifier(mods, tok);
    i = e;
  }
  return mods;
}

// ------------------------------------------------------------------------------------------------
// Unattached modifiers: "modifier 59?", "a 25 modifier", "do we need a 59", "wants GT", "KH/KI/KJ".

constexpr std::string_view kUnattachedVerbs =
    "need needs needed add adding append appending use using used want wants wanted require requires "
    "required bill billing billed carry carries report reporting with without";

// Known modifiers that are also everyday abbreviations (physician assistant, physical therapy, ...).
constexpr std::string_view kCommonAbbreviations = "PA MD PT ST CA ER US CC SA SE TC AM PM PO";

struct ModMention {
  std::string modifier;
  std::size_t pos = 0;
};

void find_modifier_mentions(const Scanner& sc, std::vector<ModMention>& out) {
  const std::size_t n = sc.size();
  // A list of modifiers starting at q: "59", "93 or FQ", "KH/KI/KJ", "-25".
  auto read_list = [&](std::size_t q, bool allow_digits, std::vector<ModMention>& found) {
    for (int k = 0; k < 6; ++k) {
      std::size_t d = sc.dash_len(q);
      auto e = modifier_at(sc, q + d, false);
      if (!e) break;
      std::string_view tok = sc.text().substr(q + d, 2);
      bool digits = all_digits(tok);
      if (digits && !allow_digits) break;
      if (!digits && (is_lower(tok[0]) || is_lower(tok[1]))) break;
      if (quantity_follows(sc, *e)) break;
      found.push_back({upper(tok), q + d});
      std::size_t s = sc.skip_hspace(*e);
      if (sc.at(s) == ',' || sc.at(s) == '/' || sc.at(s) == '&') s = sc.skip_hspace(s + 1);
      else if (sc.word_is(s, "and")) s = sc.skip_hspace(s + 3);
      else if (sc.word_is(s, "or")) s = sc.skip_hspace(s + 2);
      else break;
      q = s;
    }
  };
  for (std::size_t i = 0; i < n;) {
    if (!is_alnum(sc.at(i)) || sc.word_before(i)) {
      ++i;
      continue;
    }
    std::size_t we = sc.alnum_end(i);
    if (we - i > 9) {  // longer than any cue word
      i = we;
      continue;
    }
    std::string w = lower(sc.text().substr(i, we - i));
    static const WordSet kVerbs(kUnattachedVerbs);
    std::vector<ModMention> found;
    bool via_keyword = false;
    if (w == "modifier" || w == "modifiers" || w == "mod" || w == "mods") {
      via_keyword = true;
      std::size_t q = we;
      if (sc.at(q) == '.' || sc.at(q) == ':' || sc.at(q) == 's') ++q;
      read_list(sc.skip_hspace(q), true, found);
      if (found.empty()) {  // "a 25 modifier", "the -59 modifier"
        std::size_t b = sc.skip_hspace_back(i);
        if (b >= 2 && b < i) {
          std::size_t tb = sc.alnum_begin(b);
          std::size_t pre = tb >= 1 && sc.dash_len_before(tb) ? tb - sc.dash_len_before(tb) : tb;
          auto e = modifier_at(sc, tb, false);
          if (e && *e == b && (pre == tb || !sc.word_before(pre))) found.push_back({upper(sc.text().substr(tb, 2)), tb});
        }
      }
    } else if (kVerbs.has(w) && !sc.word_at(we)) {
      std::size_t q = sc.skip_hspace(we);
      bool article = false;
      for (std::string_view a : {"a", "an", "the"}) {
        if (sc.word_is(q, a)) {
          q = sc.skip_hspace(q + a.size());
          article = true;
          break;
        }
      }
      read_list(q, article, found);
      if (found.empty() && !article) {  // "add 93 or FQ": digits only next to a letter modifier
        std::vector<ModMention> tmp;
        read_list(q, true, tmp);
        bool letter = std::any_of(tmp.begin(), tmp.end(), [](const ModMention& m) { return !all_digits(m.modifier); });
        if (letter && tmp.size() >= 2) found = std::move(tmp);
      }
    } else if (we - i == 2 && is_upper(sc.at(i)) && !is_lower(sc.at(i + 1)) && modifier_at(sc, i, true) &&
               [&] {  // "is JZ needed", "GA required?"
                 std::size_t q = sc.skip_hspace(we);
                 return sc.word_is(q, "needed") || sc.word_is(q, "required") || sc.word_is(q, "necessary");
               }()) {
      found.push_back({std::string(sc.text().substr(i, 2)), i});
    } else if (we - i == 2 && sc.at(we) == '/' && !sc.word_before(i)) {  // "KH/KI/KJ"
      std::vector<ModMention> tmp;
      read_list(i, false, tmp);
      std::size_t slashes = 0;
      for (std::size_t k = i; k < sc.size() && k < i + 3 * tmp.size(); ++k) slashes += sc.at(k) == '/';
      if (tmp.size() >= 3 && slashes + 1 >= tmp.size()) found = std::move(tmp);
    }
    for (auto& m : found) {
      // "the PA", "with PT", "using US": everyday abbreviations unless "modifier" names them
      if (!via_keyword && contains(kCommonAbbreviations, m.modifier)) continue;
      out.push_back(std::move(m));
    }
    i = we;
  }
}

// ------------------------------------------------------------------------------------------------
// Units written before the code: "2 units of J3301", "x2 of 96372" is not a form.
std::optional<int> units_before(const Scanner& sc, std::size_t s) {
  std::size_t e = sc.skip_hspace_back(s);
  if (e == s || e < 3) return std::nullopt;
  std::size_t b = sc.alnum_begin(e);
  if (lower(sc.text().substr(b, e - b)) != "of") return std::nullopt;
  e = sc.skip_hspace_back(b);
  b = sc.alnum_begin(e);
  std::string w = lower(sc.text().substr(b, e - b));
  if (w != "units" && w != "unit") return std::nullopt;
  e = sc.skip_hspace_back(b);
  if (e == b) return std::nullopt;
  std::size_t nb = sc.alnum_begin(e);
  std::string_view num = sc.text().substr(nb, e - nb);
  if (!all_digits(num) || num.size() > 3 || sc.word_before(nb)) return std::nullopt;
  if (nb > 0 && (sc.at(nb - 1) == '.' || sc.at(nb - 1) == ',' || sc.at(nb - 1) == '/')) return std::nullopt;
  int v = 0;
  for (char c : num) v = v * 10 + (c - '0');
  return v;
}

// ------------------------------------------------------------------------------------------------
// Per-source scan

void scan_source(std::string_view text, std::vector<RawMention>& out, std::vector<ModMention>* loose_mods = nullptr) {
  const TableInfo tables = find_tables(text);
  Scanner sc(text, &tables);
  std::size_t i = 0;
  const std::size_t n = sc.size();
  std::optional<std::size_t> last_code_end;
  while (i < n) {
    if (!is_alnum(sc.at(i)) || sc.word_before(i)) {
      ++i;
      continue;
    }
    std::size_t word_end = sc.alnum_end(i);
    auto cand = match_any(sc, i);
    if (!cand || !left_context_ok(sc, i, *cand) || !right_context_ok(sc, cand->match.end) ||
        inside_url_or_address(sc, i, cand->match.end)) {
      i = word_end;
      continue;
    }
    // Is this code the continuation of a list ("64483/64484", "L1833, L3908, L4361")?
    bool in_list = false;
    if (last_code_end && i - *last_code_end <= 16) {
      std::string_view between = sc.text().substr(*last_code_end, i - *last_code_end);
      std::string b = lower(between);
      for (std::string_view w : {"and", "or"}) {
        if (auto at = b.find(w); at != std::string::npos) b.erase(at, w.size());
      }
      in_list = b.find_first_not_of(" \t,/&") == std::string::npos;
    }
    RawMention m;
    m.code = cand->match.code;
    m.system = cand->match.system;
    m.start = i;
    m.alternatives = cand->match.alternatives;
    m.needs_neighbor = cand->match.needs_neighbor;
    std::size_t pos = cand->match.end;
    if (auto r = parse_range(sc, pos, *cand)) {
      m.range_end = r->first;
      pos = r->second;
    }
    m.end = pos;
    bool reject = false;
    if (cand->family->takes_modifiers) {
      for (int k = 0; k < 12; ++k) {
        if (auto e = parse_dash_modifiers(sc, pos, m.modifiers)) { pos = *e; continue; }
        if (auto e = parse_units(sc, pos, m.units)) {
          pos = *e;
          // "J9271 x200 units, JZ"
          if (sc.at(pos) == ',') {
            std::size_t q = sc.skip_hspace(pos + 1);
            auto me = modifier_at(sc, q, true);
            if (me && is_alpha(sc.at(q)) && !quantity_follows(sc, *me)) {
              add_modifier(m.modifiers, std::string(sc.text().substr(q, 2)));
              pos = *me;
            }
          }
          continue;
        }
        if (auto e = parse_keyword_modifiers(sc, pos, m.modifiers, in_list)) { pos = *e; continue; }
        if (auto e = parse_spaced_modifiers(sc, pos, m.modifiers)) { pos = *e; continue; }
        break;
      }
    }
    // A digit group glued by a dash that is neither modifier nor range end nor another code:
    // ZIP+4 (60614-1234), NDC (00409-7338-01).
    if (m.modifiers.empty() && !m.range_end) {
      std::size_t d = sc.dash_len(m.end);
      if (d && is_digit(sc.at(m.end + d)) && sc.alnum_end(m.end + d) - (m.end + d) != 5) reject = true;
    }
    if (reject) {
      i = word_end;
      continue;
    }
    if (cand->family->takes_modifiers) {
      if (!m.units) m.units = units_before(sc, i);
      if (const TableRow* row = tables.row_of(i)) {
        // The first procedure code of a table row takes the row's Mod and Units cells.
        bool first = out.empty() || out.back().start < row->line.begin ||
                     out.back().system == CodeSystem::icd10cm || out.back().system == CodeSystem::icd10pcs;
        if (first) {
          if (row->mod_cell) {
            for (auto& mod : cell_modifiers(text.substr(row->mod_cell->begin, row->mod_cell->end - row->mod_cell->begin))) {
              add_modifier(m.modifiers, std::move(mod));
            }
          }
          if (row->units_cell && !m.units) {
            if (auto u = small_number_at(sc, row->units_cell->begin); u && u->second == row->units_cell->end) {
              m.units = u->first;
            }
          }
        }
      }
      // A HCPCS code that is also, undotted, an ICD-10-CM code keeps that reading as an alternative.
      if (m.system == CodeSystem::hcpcs && is_ambiguous_hcpcs_icd(m.code)) {
        m.alternatives.push_back("ICD-10-CM:" + m.code.substr(0, 3) + "." + m.code.substr(3));
      }
    }
    m.consumed_end = pos;
    last_code_end = m.end;
    out.push_back(std::move(m));
    i = std::max(pos, word_end);
  }
  // "syncope (R55)": kept only when another code is written within a few lines.
  // Mentions are in text order: look at the nearest confirmed neighbours on each side.
  if (std::any_of(out.begin(), out.end(), [](const RawMention& r) { return r.needs_neighbor; })) {
    std::vector<std::size_t> confirmed;
    for (const RawMention& r : out) {
      if (!r.needs_neighbor) confirmed.push_back(r.start);
    }
    std::vector<RawMention> kept;
    kept.reserve(out.size());
    for (RawMention& r : out) {
      if (r.needs_neighbor) {
        auto it = std::lower_bound(confirmed.begin(), confirmed.end(), r.start);
        bool near = (it != confirmed.end() && *it - r.start <= 400) ||
                    (it != confirmed.begin() && r.start - *(it - 1) <= 400);
        if (!near) continue;
      }
      kept.push_back(std::move(r));
    }
    out = std::move(kept);
  }
  if (loose_mods) {
    std::vector<ModMention> found;
    find_modifier_mentions(sc, found);
    for (auto& f : found) {
      // the last mention starting at or before the modifier: did it read that far?
      auto it = std::upper_bound(out.begin(), out.end(), f.pos,
                                 [](std::size_t p, const RawMention& r) { return p < r.start; });
      bool inside = it != out.begin() && f.pos < std::max((it - 1)->consumed_end, (it - 1)->end);
      if (!inside) loose_mods->push_back(std::move(f));
    }
  }
}

}  // namespace

std::optional<CodeSystem> code_system_from_string(std::string_view s) {
  std::string u = upper(s);
  if (u == "CPT") return CodeSystem::cpt;
  if (u == "HCPCS") return CodeSystem::hcpcs;
  if (u == "ICD-10-CM") return CodeSystem::icd10cm;
  if (u == "ICD-10-PCS") return CodeSystem::icd10pcs;
  return std::nullopt;
}

CodeExtraction extract_code_info(const std::vector<TextSource>& sources) {
  CodeExtraction result;
  std::vector<Code>& codes = result.codes;
  std::vector<std::string> loose;
  std::unordered_map<std::string, std::size_t> index;  // "system|code" -> position in codes
  for (const TextSource& src : sources) {
    std::vector<RawMention> raw;
    std::vector<ModMention> loose_mods;
    scan_source(src.text, raw, &loose_mods);
    for (auto& lm : loose_mods) add_modifier(loose, std::move(lm.modifier));
    std::string place = src.where.rfind("attachment", 0) == 0 ? "attachment" : src.where;
    for (RawMention& r : raw) {
      std::string key = std::string(to_string(r.system)) + "|" + r.code;
      auto [it, inserted] = index.emplace(key, codes.size());
      if (inserted) {
        Code c;
        c.code = r.code;
        c.system = r.system;
        codes.push_back(std::move(c));
      }
      Code& c = codes[it->second];
      for (const auto& mod : r.modifiers) add_modifier(c.modifiers, mod);
      for (const auto& alt : r.alternatives) add_modifier(c.alternatives, alt);
      if (!c.units && r.units) c.units = r.units;
      if (!c.range_end && r.range_end) c.range_end = r.range_end;
      if (std::find(c.found_in.begin(), c.found_in.end(), place) == c.found_in.end()) {
        c.found_in.push_back(place);
      }
      // Hostile mail can repeat a code millions of times: keep the first kMaxMentionsPerCode
      // positions (the merged modifiers/units/found_in above still see every mention).
      constexpr std::size_t kMaxMentionsPerCode = 1000;
      if (c.mentions.size() >= kMaxMentionsPerCode) continue;
      CodeMention mention;
      mention.where = src.where;
      mention.start = r.start;
      mention.end = r.end;
      mention.modifiers = std::move(r.modifiers);
      mention.units = r.units;
      c.mentions.push_back(std::move(mention));
    }
  }
  // A code read one way in one place and the other way elsewhere keeps no stale alternative.
  for (Code& c : codes) {
    std::erase_if(c.alternatives, [&](const std::string& alt) {
      return index.count(alt.substr(0, alt.find(':')) + "|" + alt.substr(alt.find(':') + 1)) > 0;
    });
  }
  // Modifiers named without a code, unless the same modifier is tied to a code elsewhere.
  for (const std::string& m : loose) {
    bool attached = std::any_of(codes.begin(), codes.end(), [&](const Code& c) {
      return std::find(c.modifiers.begin(), c.modifiers.end(), m) != c.modifiers.end();
    });
    if (!attached) result.unattached_modifiers.push_back(m);
  }
  return result;
}

std::vector<Code> extract_codes(const std::vector<TextSource>& sources) {
  return extract_code_info(sources).codes;
}

std::vector<TextSource> code_sources(const Message& message) {
  std::vector<TextSource> sources;
  if (message.subject) sources.push_back({"subject", *message.subject});
  sources.push_back({"body", message.body_text});
  for (std::size_t i = 0; i < message.attachments.size(); ++i) {
    const auto& text = message.attachments[i].text;
    if (text) sources.push_back({"attachment:" + std::to_string(i), *text});
  }
  return sources;
}

std::vector<Code> extract_codes(const Message& message) { return extract_codes(code_sources(message)); }

CodeExtraction extract_code_info(const Message& message) { return extract_code_info(code_sources(message)); }

}  // namespace casedesk::parsers
