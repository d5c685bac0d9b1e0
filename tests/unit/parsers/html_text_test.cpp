#include <gtest/gtest.h>

#include "parsers/charset.hpp"
#include "parsers/html_text.hpp"

using namespace casedesk::parsers;

namespace {
std::string text_of(std::string_view html) { return collapse_whitespace(html_to_text(html)); }
}  // namespace

TEST(HtmlText, BlockTagsBreakLinesInlineTagsDoNot) {
  EXPECT_EQ(html_to_text("<p>one</p><p>two</p>"), "\none\n\ntwo\n");
  EXPECT_EQ(text_of("a<br>b<div>c</div>d"), "a b c d");
  EXPECT_EQ(text_of("<b>bo</b><i>ld</i>"), "bold");
  EXPECT_EQ(text_of("<table><tr><td>x</td><td>y</td></tr></table>"), "x y");
}

TEST(HtmlText, DropsScriptStyleHeadAndComments) {
  EXPECT_EQ(text_of("<html><head><title>T</title><style>p{}</style></head><body>Hi<!-- secret --></body></html>"),
            "Hi");
  EXPECT_EQ(text_of("a<script>if (a < b) { document.write('</p>'); }</script>b"), "ab");
  EXPECT_EQ(text_of("<noscript>x</noscript>y<template>z</template>"), "y");
  EXPECT_EQ(text_of("<!DOCTYPE html><?xml version=\"1.0\"?>ok"), "ok");
}

TEST(HtmlText, DecodesCharacterReferences) {
  EXPECT_EQ(decode_html_entities("&lt;a&gt; &amp; &quot;q&quot; &#65;&#x42; &eacute; &euro; &hellip;"),
            "<a> & \"q\" AB \xC3\xA9 \xE2\x82\xAC \xE2\x80\xA6");
  EXPECT_EQ(decode_html_entities("&#150;"), "\xE2\x80\x93");  // windows-1252 meaning
  EXPECT_EQ(decode_html_entities("&nbsp"), "\xC2\xA0");
  EXPECT_EQ(decode_html_entities("&unknown; & &#;"), "&unknown; & &#;");
  EXPECT_EQ(decode_html_entities("&#0; &#x110000;"), "\xEF\xBF\xBD \xEF\xBF\xBD");
}

TEST(HtmlText, ListItemsAndLinks) {
  EXPECT_EQ(text_of("<ul><li>one</li><li>two</li></ul>"), "- one - two");
  EXPECT_EQ(text_of("see <a href=\"https://x.example/?a=1&amp;b=2\">the page</a>"), "see the page");
}

TEST(HtmlText, SurvivesBrokenMarkup) {
  EXPECT_EQ(text_of("a < b and c<d"), "a < b and c<d");
  EXPECT_EQ(text_of("<p title='x>y'>text</p>"), "text");
  EXPECT_EQ(text_of("<div>unterminated <b"), "unterminated <b");
  EXPECT_EQ(text_of(""), "");
}
