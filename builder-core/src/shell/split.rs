//! Word splitting after expansion, BuildKit's `wordsStruct`.
//!
//! Unquoted text, including the values of variables, is split on whitespace; quoted text and
//! escaped characters are added as they are. An empty quoted string (`""`) makes no word.

/// Collects the words of an expanded string.
#[derive(Debug, Default)]
pub(crate) struct WordSplitter {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl WordSplitter {
    /// An unquoted character: whitespace ends the current word.
    pub(crate) fn add_char(&mut self, ch: char) {
        if !ch.is_whitespace() {
            self.add_raw_char(ch);
        } else if self.in_word && !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
            self.in_word = false;
        }
    }

    /// A quoted or escaped character.
    pub(crate) fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }

    /// Unquoted text, such as a variable's value.
    pub(crate) fn add_str(&mut self, text: &str) {
        text.chars().for_each(|ch| self.add_char(ch));
    }

    /// Quoted text.
    pub(crate) fn add_raw_str(&mut self, text: &str) {
        self.word.push_str(text);
        self.in_word = true;
    }

    /// The words, the last one included.
    pub(crate) fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_unquoted_whitespace_only() {
        let mut words = WordSplitter::default();
        words.add_str("  a b ");
        words.add_raw_str(" c ");
        words.add_char('d');
        words.add_char('\u{a0}');
        words.add_raw_char(' ');
        assert_eq!(words.finish(), ["a", "b", " c d", " "]);
    }

    #[test]
    fn empty_quotes_make_no_word() {
        let mut words = WordSplitter::default();
        words.add_raw_str("");
        words.add_char(' ');
        words.add_char('x');
        assert_eq!(words.finish(), ["x"]);
    }
}
