"""Text run through a model once to derive its fixed initial LSTM state.

The sentences are ordinary English prose on everyday topics, tokenized the
way published ELMo models were trained (punctuation split off).
"""

WARMUP_SENTENCES: tuple[str, ...] = (
    "The city council met on Tuesday evening to discuss the new budget .",
    "Several residents said they were worried about rising rents and the cost of food .",
    "After a long debate , the members voted to spend more money on public schools .",
    "It rained for most of the week , but the weekend was warm and sunny .",
    "She opened the window , looked at the garden and decided to go for a walk .",
    "The company reported higher profits than expected in the third quarter .",
    "Analysts had predicted a small loss because of weak demand in Europe .",
    "My brother works at a hospital in the north of the country .",
    "He usually takes the train , although he sometimes drives when the weather is bad .",
    "The museum will open a new exhibition about ancient maps next month .",
    "Visitors can see more than two hundred objects , many of them never shown before .",
    "We stayed up late talking about music , books and our plans for the summer .",
    "The team lost its first three games but won the championship in the end .",
    "Scientists say the new vaccine appears to be safe and effective in adults .",
    "Further studies are needed to understand how long the protection lasts .",
    "When the meeting ended , nobody knew exactly what had been decided .",
    "The price of oil fell sharply on Monday after reports of higher supply .",
    "Our neighbours have two dogs and a cat that sleeps on the wall all day .",
    "I think the film was too long , but the music and the acting were excellent .",
    "The government announced that it would build thousands of new homes .",
    "Critics argued that the plan did not do enough for families with low incomes .",
    "Please send me the report by Friday so that I can read it over the weekend .",
    "The river flooded several villages , and hundreds of people had to leave their homes .",
    "Rescue workers used boats to reach those who were trapped by the water .",
    "Most students found the exam difficult , especially the last question .",
    "The restaurant on the corner serves fresh fish and simple , honest food .",
    "In the morning the market is full of farmers selling fruit and vegetables .",
    "He said he had never seen anything like it in his thirty years as a teacher .",
    "The new phone is lighter and faster , and its battery lasts for two days .",
    "They walked along the beach until the sun went down behind the hills .",
    "The president will travel to Asia next week for a series of meetings .",
    "Experts warned that the drought could damage crops across the region .",
)
