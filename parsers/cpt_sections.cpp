// CPT section ranges. GENERATED ONCE from shared/codesets/cpt/cpt_section_ranges.csv (numeric ranges
// and generic labels written for this project; no AMA descriptors). Maintained here from now on:
// the product never reads the source data at build or run time. Ranges change yearly at the edges; "verified" false marks
// boundaries compiled from the CPT book layout, not checked against the current AMA manual.

#include "parsers/cpt_sections.hpp"

#include <cctype>
#include <string>

namespace casedesk::parsers {

const std::vector<CptRange>& cpt_ranges() {
  static const std::vector<CptRange> table = {
      {"code_format", "00000", "99999",
       "CPT Category I: 5 digits (a few Cat I code families end in a letter: PLA 'U'; vaccine admin 'A'; administrative MAAA 'M')", true},
      {"code_format", "0001F", "9999F",
       "CPT Category II (performance measurement): 4 digits + F; not paid by Medicare", true},
      {"code_format", "0001T", "9999T",
       "CPT Category III (emerging technology; temporary): 4 digits + T", true},
      {"code_format", "0001U", "9999U",
       "CPT Proprietary Laboratory Analyses (PLA): 4 digits + U (Pathology & Laboratory section)", true},
      {"code_format", "0001A", "9999A",
       "CPT Category I vaccine/immunization administration codes: 4 digits + A", true},
      {"code_format", "0001M", "9999M",
       "CPT Administrative MAAA codes: 4 digits + M", true},
      {"section", "99202", "99499",
       "Evaluation and Management (printed first in the CPT book)", true},
      {"section", "00100", "01999",
       "Anesthesia (plus qualifying-circumstance add-ons 99100-99140 which sit numerically inside Medicine)", true},
      {"section", "10004", "69990",
       "Surgery", true},
      {"section", "70010", "79999",
       "Radiology", true},
      {"section", "80047", "89398",
       "Pathology and Laboratory (plus PLA nnnnU codes)", true},
      {"section", "90281", "99199",
       "Medicine (part 1)", true},
      {"section", "99500", "99607",
       "Medicine (part 2: home health / medication therapy management)", true},
      {"ncci_chapter", "00000", "09999",
       "NCCI Policy Manual Ch. II: Anesthesia services", true},
      {"ncci_chapter", "10000", "19999",
       "NCCI Policy Manual Ch. III: Surgery - Integumentary system", true},
      {"ncci_chapter", "20000", "29999",
       "NCCI Policy Manual Ch. IV: Surgery - Musculoskeletal system", true},
      {"ncci_chapter", "30000", "39999",
       "NCCI Policy Manual Ch. V: Surgery - Respiratory, cardiovascular, hemic and lymphatic systems", true},
      {"ncci_chapter", "40000", "49999",
       "NCCI Policy Manual Ch. VI: Surgery - Digestive system", true},
      {"ncci_chapter", "50000", "59999",
       "NCCI Policy Manual Ch. VII: Surgery - Urinary, male genital, female genital, maternity care and delivery systems", true},
      {"ncci_chapter", "60000", "69999",
       "NCCI Policy Manual Ch. VIII: Surgery - Endocrine, nervous, eye and ocular adnexa, and auditory systems", true},
      {"ncci_chapter", "70000", "79999",
       "NCCI Policy Manual Ch. IX: Radiology services", true},
      {"ncci_chapter", "80000", "89999",
       "NCCI Policy Manual Ch. X: Pathology and laboratory services", true},
      {"ncci_chapter", "90000", "99999",
       "NCCI Policy Manual Ch. XI: Medicine and evaluation & management services", true},
      {"surgery_subsection", "10004", "10021",
       "Surgery - General (fine needle aspiration etc.)", false},
      {"surgery_subsection", "10030", "19499",
       "Integumentary system", false},
      {"surgery_subsection", "20100", "29999",
       "Musculoskeletal system", false},
      {"surgery_subsection", "30000", "32999",
       "Respiratory system", false},
      {"surgery_subsection", "33016", "37799",
       "Cardiovascular system", false},
      {"surgery_subsection", "38100", "38999",
       "Hemic and lymphatic systems", false},
      {"surgery_subsection", "39000", "39599",
       "Mediastinum and diaphragm", false},
      {"surgery_subsection", "40490", "49999",
       "Digestive system", false},
      {"surgery_subsection", "50010", "53899",
       "Urinary system", false},
      {"surgery_subsection", "54000", "55899",
       "Male genital system", false},
      {"surgery_subsection", "55920", "55980",
       "Reproductive system procedures / intersex surgery", false},
      {"surgery_subsection", "56405", "58999",
       "Female genital system", false},
      {"surgery_subsection", "59000", "59899",
       "Maternity care and delivery", false},
      {"surgery_subsection", "60000", "60699",
       "Endocrine system", false},
      {"surgery_subsection", "61000", "64999",
       "Nervous system", false},
      {"nervous_subsection", "61000", "62258",
       "Skull, meninges and brain", false},
      {"nervous_subsection", "62263", "63746",
       "Spine and spinal cord (incl. epidurals/spinal injections 62320-62327 and laminectomy/decompression 63001-63048)", false},
      {"nervous_subsection", "64400", "64999",
       "Extracranial nerves, peripheral nerves and autonomic nervous system", false},
      {"nervous_detail", "64400", "64489",
       "Nerve blocks / injection of anesthetic or steroid (somatic nerves)", false},
      {"nervous_detail", "64490", "64495",
       "Paravertebral facet joint (medial branch) injections with imaging guidance", false},
      {"nervous_detail", "64505", "64530",
       "Autonomic nerve blocks", false},
      {"nervous_detail", "64553", "64595",
       "Neurostimulators (peripheral nerve)", false},
      {"nervous_detail", "64600", "64681",
       "Destruction by neurolytic agent (incl. facet RF 64633-64636; genicular 64624; SI-joint 64625)", false},
      {"nervous_detail", "64702", "64727",
       "Neuroplasty (exploration/neurolysis/decompression)", false},
      {"nervous_detail", "64732", "64999",
       "Transection/avulsion, excision, neurorrhaphy; 64999 unlisted", false},
      {"surgery_subsection", "65091", "68899",
       "Eye and ocular adnexa", false},
      {"surgery_subsection", "69000", "69979",
       "Auditory system", false},
      {"surgery_subsection", "69990", "69990",
       "Operating microscope (add-on)", false},
  };
  return table;
}

namespace {

bool all_digits(std::string_view s) {
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return !s.empty();
}

}  // namespace

std::vector<CptRange> cpt_ranges_of(std::string_view code) {
  std::vector<CptRange> out;
  if (code.size() != 5) return out;
  const bool numeric = all_digits(code);
  if (!numeric && !all_digits(code.substr(0, 4))) return out;
  for (const auto& r : cpt_ranges()) {
    if (r.start.size() != 5 || r.end.size() != 5) continue;
    // Same family only: a 5-digit code against numeric ranges, "3074F" against the "F" range.
    if (numeric != all_digits(r.start)) continue;
    if (!numeric && r.start.back() != code.back()) continue;
    if (code >= r.start && code <= r.end) out.push_back(r);
  }
  return out;
}

}  // namespace casedesk::parsers
