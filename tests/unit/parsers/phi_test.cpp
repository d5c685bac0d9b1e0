#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parsers/phi.hpp"

namespace {

using casedesk::parsers::detect_phi;
using casedesk::parsers::TextSource;
using Strings = std::vector<std::string>;

Strings phi(std::string_view body, std::string_view subject = "") {
  return detect_phi(std::vector<TextSource>{{"subject", subject}, {"body", body}});
}

TEST(Phi, Kinds) {
  EXPECT_EQ(phi("SSN 123-45-6789"), Strings{"ssn"});
  EXPECT_EQ(phi("pt DOB: 03/14/1956, seen today"), Strings{"dob"});
  EXPECT_EQ(phi("Date of birth 1956-03-14"), Strings{"dob"});
  EXPECT_EQ(phi("MRN 00482913"), Strings{"mrn"});
  EXPECT_EQ(phi("Member ID: XJH123456789"), Strings{"member_id"});
  EXPECT_EQ(phi("call me at (509) 555-0143"), Strings{"phone"});
  EXPECT_EQ(phi("Patient: John Smith, 64M"), Strings{"patient_name"});
  EXPECT_EQ(phi("", "Pt name: SMITH, JOHN"), Strings{"patient_name"});
  EXPECT_EQ(phi("Patient: John Smith DOB 1/2/1960 SSN 123-45-6789 ph 555-123-4567"),
            (Strings{"ssn", "dob", "phone", "patient_name"}));
}

TEST(Phi, CodesAndNarrativeAreNotPhi) {
  EXPECT_TRUE(phi("Billed 99213-25 with 20610, dx M17.11. ZIP 99204. DOS 2025-01-15. "
                  "Patient: established, 64 yo. 62323 and 64483 on the same day. NPI 1234567893.")
                  .empty());
  EXPECT_TRUE(phi("Claim 2024-118842 denied; range 99202-99215; NDC 00409-7338-01.").empty());
}

}  // namespace
